/// StreamingLLM: keep the attention sinks (the first keys) and a window of the most recent keys,
/// nothing else. Xiao et al., "Efficient Streaming Language Models with Attention Sinks", ICLR 2024.
/// The sinks are the lab's protected `sink` keys; this policy ranks the rest by recency, so with
/// budget B it keeps exactly the first `sink` and the last B - `sink` keys. Follows NVIDIA/kvpress
/// `kvpress/presses/streaming_llm_press.py` (n_sink 4, the lab's default sink for this policy;
/// no position re-rotation, as kvpress without `KeyRerotationPress`).
public struct StreamingLLMPolicy: BudgetedPolicy {
    public let keep: Int
    public var name: String { "streaming(keep \(keep))" }
    public var signal: KeySignal { .none }
    public init(keep: Int) { self.keep = keep }

    public func score(_ input: EvictionInput) -> ScoredCandidates {
        let keys = input.candidates.map { $0.map(\.key) }
        return ScoredCandidates(keys: keys, scores: input.candidates.map { $0.map { Float($0.position) } })
    }
}
