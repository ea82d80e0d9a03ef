/// The random baseline (kvpress's RandomPress): every head keeps a uniformly random set of
/// candidates, drawn from `seed` (the lab salts it with the chunk and layer), so a run repeats.
public struct RandomPolicy: BudgetedPolicy {
    public let keep: Int, seed: UInt64
    public var name: String { "random(keep \(keep), seed \(seed))" }
    public var signal: KeySignal { .none }
    public init(keep: Int, seed: UInt64) { self.keep = keep; self.seed = seed }

    public func score(_ input: EvictionInput) -> ScoredCandidates {
        let scores = input.candidates.enumerated().map { h, cand -> [Float] in
            var rng = SplitMix64(seed: seed &+ UInt64(h) &* 0x9E37_79B9_7F4A_7C15)
            return cand.map { _ in Float(rng.next() >> 40) }
        }
        return ScoredCandidates(keys: input.candidates.map { $0.map(\.key) }, scores: scores)
    }
}
