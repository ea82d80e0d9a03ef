/// Selection per KV head (kvpress's semantics, and what makes a budget memory under GQA): the
/// policy scores every query head, the scores of the `group` query heads that share a KV head are
/// averaged candidate by candidate (kvpress: `scores.view(..., groups, k_len).mean(2)`), the rule
/// selects once per KV head, and every query head of the group evicts the same keys.
public enum GroupedSelection {
    public static func select(_ policy: EvictionPolicy, _ input: EvictionInput, group: Int) -> EvictionSelection {
        guard group > 1 else { return policy.select(input) }
        let s = policy.score(input), H = s.keys.count
        precondition(H % group == 0, "query heads \(H) are not a multiple of the group \(group)")
        var keys: [[Int]] = [], scores: [[Float]] = []
        for g in 0..<(H / group) {
            let members = (g * group)..<((g + 1) * group)
            precondition(members.allSatisfy { s.keys[$0] == s.keys[g * group] }, "a KV head's query heads rank different candidates")
            keys.append(s.keys[g * group])
            scores.append(s.keys[g * group].indices.map { i in members.reduce(Float(0)) { $0 + s.scores[$1][i] } / Float(group) })
        }
        let sel = policy.rule.select(ScoredCandidates(keys: keys, scores: scores))
        return EvictionSelection(evicted: (0..<H).map { sel.evicted[$0 / group] }, outliers: Array(repeating: 0, count: H),
                                 keptByScore: sel.keptByScore.isEmpty ? [] : (0..<H).map { sel.keptByScore[$0 / group] })
    }
}
