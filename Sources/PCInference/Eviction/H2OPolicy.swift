/// H2O, the heavy-hitter oracle: of a budget of B keys, the last B/2 candidates (the recent
/// window) and the B - B/2 others with the largest accumulated attention (the heavy hitters).
/// Zhang et al., "H2O: Heavy-Hitter Oracle for Efficient Generative Inference of Large Language
/// Models", NeurIPS 2023. Follows FMInference/H2O `h2o_hf/utils_real_drop/modify_llama.py`
/// (`H2OKVCache_LayerWise`: softmaxed attention summed, unnormalised, over every query row per
/// head; top `hh_size` outside the last `recent_size` keys, plus those; the two sizes equal by
/// default). At prefill the sum runs over every row of the pass (context and question rows).
/// Its step-by-step form while decoding is `H2ODecodeEviction` (`--decode-eviction`).
public struct H2OPolicy: BudgetedPolicy {
    public let keep: Int, recent: Int
    public var name: String { "h2o(keep \(keep), recent \(recent))" }
    public var signal: KeySignal { .attention(lastRows: nil) }
    public init(keep: Int, recent: Int) { self.keep = keep; self.recent = recent }

    public func score(_ input: EvictionInput) -> ScoredCandidates {
        let keys = input.candidates.map { $0.map(\.key) }
        var s = candidateScores(input)
        for h in s.indices { for i in s[h].indices.suffix(min(recent, s[h].count)) { s[h][i] = .infinity } }
        return ScoredCandidates(keys: keys, scores: s)
    }
}
