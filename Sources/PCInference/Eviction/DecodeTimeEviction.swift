/// Decode-time eviction (`kv_cache_dynamic`, spec section 3.3): after each generated token has
/// attended, every head scores its keys by the summed attention of the last `window` rows it
/// remembers (the question's last rows at first, then the generated tokens), max-pooled along
/// the remembered column order, and keeps the `capacity - window` best plus the last `window`
/// keys, so the cache stays at `capacity` keys per head. The same scoring as SnapKV
/// (Li et al., 2024) applied step by step, as the official ParallelComp code does.
public struct DecodeTimeEviction: EvictionPolicy {
    public let window: Int, kernel: Int, capacity: Int
    public var name: String { "decode_eviction(capacity \(capacity), window \(window), kernel \(kernel))" }
    public var rule: EvictionRule { .keepTop(max(0, capacity - window)) }

    public init(window: Int, kernel: Int, capacity: Int) { self.window = window; self.kernel = kernel; self.capacity = capacity }

    public func score(_ input: EvictionInput) -> ScoredCandidates { MaxPool.scored(input, kernel: kernel) }
}
