/// H2O during decoding: every head accumulates each key's attention over the rows it has seen
/// (the question's, then each generated token's) and keeps its `recent` newest keys plus the
/// heavy hitters, the keys with the largest sums, within its budget. Zhang et al., "H2O:
/// Heavy-Hitter Oracle for Efficient Generative Inference of Large Language Models", NeurIPS
/// 2023, algorithm 1 (one key leaves per generated token once the cache is full).
public struct H2ODecodeEviction: DecodeStepPolicy {
    public let keep: Int, recent: Int
    public var name: String { "h2o_decode(keep \(keep), recent \(recent))" }
    public var accumulates: Bool { true }
    public init(keep: Int, recent: Int) { self.keep = keep; self.recent = recent }

    /// `input.scores[h]`: head h's accumulated attention, by key.
    public func score(_ input: EvictionInput) -> ScoredCandidates {
        ScoredCandidates(keys: input.candidates.map { $0.map(\.key) }, scores: candidateScores(input))
    }
}
