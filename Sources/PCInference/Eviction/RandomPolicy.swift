/// The random baseline: a uniformly random kept set, drawn from `seed` (the lab salts it with the
/// chunk and layer) so a run repeats. Follows NVIDIA/kvpress `kvpress/presses/random_press.py`
/// (`torch.rand` over keys.shape[:-1], one draw per KV head): heads `h` with the same `h / group`
/// share a draw, so with `group` = query heads per KV head the draw is per KV head, and with 1 per
/// query head (the labelled variant).
public struct RandomPolicy: BudgetedPolicy {
    public let keep: Int, seed: UInt64, group: Int
    public var name: String { "random(keep \(keep), seed \(seed), group \(group))" }
    public var signal: KeySignal { .none }
    public init(keep: Int, seed: UInt64, group: Int = 1) { self.keep = keep; self.seed = seed; self.group = max(1, group) }

    public func score(_ input: EvictionInput) -> ScoredCandidates {
        let scores = input.candidates.enumerated().map { h, cand -> [Float] in
            var rng = SplitMix64(seed: seed &+ UInt64(h / group) &* 0x9E37_79B9_7F4A_7C15)
            return cand.map { _ in Float(rng.next() >> 40) }
        }
        return ScoredCandidates(keys: input.candidates.map { $0.map(\.key) }, scores: scores)
    }
}
