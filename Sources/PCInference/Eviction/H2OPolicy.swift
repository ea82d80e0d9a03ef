/// H2O, the heavy-hitter oracle: keep the keys with the largest accumulated attention (summed over
/// every query row seen so far) beside the most recent ones. Zhang et al., "H2O: Heavy-Hitter
/// Oracle for Efficient Generative Inference of Large Language Models", NeurIPS 2023.
/// The recent keys are the lab's protected `recent` keys; at prefill the accumulation runs over
/// every row of the pass (context and question rows), so earlier keys, seen by more rows, gain.
/// Its step-by-step form while decoding is `H2ODecodeEviction` (`--decode-eviction`).
public struct H2OPolicy: BudgetedPolicy {
    public let keep: Int
    public var name: String { "h2o(keep \(keep))" }
    public var signal: KeySignal { .attention(lastRows: nil) }
    public init(keep: Int) { self.keep = keep }

    public func score(_ input: EvictionInput) -> ScoredCandidates {
        ScoredCandidates(keys: input.candidates.map { $0.map(\.key) }, scores: candidateScores(input))
    }
}
