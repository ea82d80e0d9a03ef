/// KNorm: keep the keys with the smallest L2 norm, which draw the most attention, without
/// computing any attention. Devoto et al., "A Simple and Effective L2 Norm-Based Strategy for KV
/// Cache Compression", EMNLP 2024. Follows NVIDIA/kvpress `kvpress/presses/knorm_press.py`
/// (score -||k||, keys stored per KV head, so a group's query heads agree).
public struct KNormPolicy: BudgetedPolicy {
    public let keep: Int
    public var name: String { "knorm(keep \(keep))" }
    public var signal: KeySignal { .keyNorm }
    public init(keep: Int) { self.keep = keep }

    public func score(_ input: EvictionInput) -> ScoredCandidates {
        ScoredCandidates(keys: input.candidates.map { $0.map(\.key) }, scores: candidateScores(input).map { $0.map { -$0 } })
    }
}
