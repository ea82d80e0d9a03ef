/// TOVA during decoding: once the cache holds more keys than its budget, drop the key the newest
/// token attends to least, its attention averaged over the layer's heads (so the heads of a layer
/// keep the same keys). Oren et al., "Transformers are Multi-State RNNs", 2024 (arXiv:2401.06104),
/// section 4: the newest key is a candidate too, and no key is protected.
public struct TOVADecodeEviction: DecodeStepPolicy {
    public let keep: Int
    public var name: String { "tova_decode(keep \(keep))" }
    public var recent: Int { 0 }
    public var accumulates: Bool { false }
    public init(keep: Int) { self.keep = keep }

    /// `input.scores[h]`: head h's newest attention row, by key.
    public func score(_ input: EvictionInput) -> ScoredCandidates {
        let H = max(1, input.scores.count)
        func mean(_ k: Int) -> Float { input.scores.reduce(Float(0)) { $0 + (k < $1.count ? $1[k] : 0) } / Float(H) }
        let keys = input.candidates.map { $0.map(\.key) }
        return ScoredCandidates(keys: keys, scores: keys.map { $0.map(mean) })
    }
}
