/// SnapKV applied to one chunk (the paper's parallel KV-cache compression; spec section 3.1):
/// the last `window` question rows score every key, the candidates' scores are max-pooled over
/// neighbouring candidates (kernel `kernel`), and each head keeps its `budget` best candidates.
/// Li et al., "SnapKV: LLM Knows What You are Looking for Before Generation", 2024.
public struct SnapKVCompression: EvictionPolicy {
    public let settings: ParallelCompConfig.Compression
    public let budget: Int
    public var name: String { "snapkv(capacity \(settings.capacity), window \(settings.window), kernel \(settings.kernel))" }
    public var rule: EvictionRule { .keepTop(budget) }

    public init(_ s: ParallelCompConfig.Compression, budget: Int) { settings = s; self.budget = budget }

    public func score(_ input: EvictionInput) -> ScoredCandidates { MaxPool.scored(input, kernel: settings.kernel) }
}

/// `stage_eviction` (spec section 3.2): after the question prefill, one SnapKV pass over the whole
/// cache. The last `window` keys always stay (they are not candidates); question keys compete
/// with context keys for the `budget`.
public struct StageCompression: EvictionPolicy {
    public let settings: ParallelCompConfig.Compression
    public let budget: Int
    public var name: String { "stage_eviction(budget \(budget), window \(settings.window))" }
    public var rule: EvictionRule { .keepTop(budget) }

    public init(_ s: ParallelCompConfig.Compression, budget: Int) { settings = s; self.budget = budget }

    public func score(_ input: EvictionInput) -> ScoredCandidates { MaxPool.scored(input, kernel: settings.kernel) }
}
