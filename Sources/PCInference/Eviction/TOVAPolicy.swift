/// TOVA, token omission via attention: drop the keys the current (last) query attends to least,
/// the score averaged over all the layer's heads, so every head of a layer keeps the same keys.
/// Oren et al., "Transformers are Multi-State RNNs", 2024 (arXiv:2401.06104). Follows NVIDIA/kvpress
/// `kvpress/presses/tova_press.py` (last row's attention, mean over heads, the last key kept with
/// the maximum score). Applied once at the end of a pass here; TOVA's step-by-step eviction while
/// decoding is `TOVADecodeEviction` (`--decode-eviction`).
public struct TOVAPolicy: BudgetedPolicy {
    public let keep: Int
    public var name: String { "tova(keep \(keep))" }
    public var signal: KeySignal { .attention(lastRows: 1) }
    public init(keep: Int) { self.keep = keep }

    public func score(_ input: EvictionInput) -> ScoredCandidates {
        let per = candidateScores(input), H = max(1, per.count)
        let keys = input.candidates.map { $0.map(\.key) }
        // Heads share one candidate list in the lab, so the mean is taken position by position.
        var mean = (per.first ?? []).indices.map { i in per.reduce(Float(0)) { $0 + $1[i] } / Float(H) }
        if let end = input.passEnd, let first = keys.first { for i in first.indices where first[i] == end - 1 { mean[i] = .infinity } }
        return ScoredCandidates(keys: keys, scores: per.map { _ in mean })
    }
}
