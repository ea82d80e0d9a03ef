import Foundation

/// Peak memory of a ParallelComp run, estimated before it starts so that an input too large for
/// the machine is refused up front instead of being killed halfway.
public struct MemoryEstimate: Sendable {
    public var weightsBytes: Int
    public var kvBytes: Int
    public var activationBytes: Int
    public var observerBytes: Int
    public var runtimeBytes: Int
    public var total: Int { weightsBytes + kvBytes + activationBytes + observerBytes + runtimeBytes }

    /// - chunkLengths: tokens of each chunk as prefilled (prefix + content).
    /// - observed: whether trace observers are attached (their per-key scores grow with the kept keys).
    public static func parallelComp(model: LlamaModel, chunkLengths: [Int], questionLength m: Int, keep: Int,
                                    maxNewTokens: Int, observed: Bool, workers: Int) -> MemoryEstimate {
        let c = model.config
        let perToken = 2 * c.layerCount * c.kvDim * 4
        // At most K chunks are held while one more is prefilled: the K+1 largest.
        let largest = chunkLengths.sorted(by: >)
        let held = largest.prefix(min(keep + 1, largest.count)).reduce(0) { $0 + $1 + m }
        let decode = maxNewTokens + m
        let kv = (held + decode) * perToken
        let B = min(model.tokenBlock, (largest.first ?? 0) + m)
        // Per row block: scratch for norms, K, V, attention output and the feed-forward; per pass
        // (the forward is layer-major): every row's residual stream and queries.
        let T = (largest.first ?? 0) + m
        let act = (B * (3 * c.embeddingLength + c.qDim + 2 * c.kvDim + 2 * c.feedForwardLength) + T * (c.embeddingLength + c.qDim)) * 4
            + m * c.vocabSize * 4                                           // question logits
            + workers * 3 * 64 * min(largest.prefix(keep).reduce(0, +) + m, 1 << 20) * 4   // score blocks
        let keys = largest.prefix(keep).reduce(0, +) + m
        let obs = observed ? (workers + 1) * c.layerCount * c.headCount * keys * 4 : 0
        return MemoryEstimate(weightsBytes: model.weightMemoryBytes,
                              kvBytes: kv, activationBytes: act, observerBytes: obs, runtimeBytes: 90 << 20)
    }

    /// MemAvailable from /proc/meminfo, in bytes (nil when unknown).
    public static func availableBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let parts = line.split(separator: " ")
            if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
        }
        return nil
    }

    public var summary: String {
        String(format: "%.2f GB (weights %.2f, KV cache %.2f, activations %.2f, observers %.2f)",
               Double(total) / 1e9, Double(weightsBytes) / 1e9, Double(kvBytes) / 1e9, Double(activationBytes) / 1e9, Double(observerBytes) / 1e9)
    }
}
