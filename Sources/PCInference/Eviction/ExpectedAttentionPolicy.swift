/// ExpectedAttention: keep the keys the future queries are expected to attend to most, weighted
/// by their value norms (`ExpectedAttention` computes that signal from the pass's query moments).
/// Follows NVIDIA/kvpress `kvpress/presses/expected_attention_press.py` at its defaults
/// (n_future_positions 512, n_sink 4, covariance and value norms on, epsilon 0): the first
/// `sink` keys are the lab's protected sinks (kvpress pads them with the maximum score), and
/// the group mean over a KV head's query heads is `GroupedSelection`'s. Refused on QK-norm models
/// (Gemma 3), as kvpress refuses them: the queries' moments do not survive the per-head norm.
public struct ExpectedAttentionPolicy: BudgetedPolicy {
    public let keep: Int, sink: Int, futurePositions: Int
    public var name: String { "expected-attention(keep \(keep), n_sink \(sink), n_future \(futurePositions))" }
    public var signal: KeySignal { .expectedAttention(sink: sink, futurePositions: futurePositions) }
    public init(keep: Int, sink: Int = ExpectedAttention.sink, futurePositions: Int = ExpectedAttention.futurePositions) {
        self.keep = keep; self.sink = sink; self.futurePositions = futurePositions
    }

    public func score(_ input: EvictionInput) -> ScoredCandidates {
        ScoredCandidates(keys: input.candidates.map { $0.map(\.key) }, scores: candidateScores(input))
    }
}
