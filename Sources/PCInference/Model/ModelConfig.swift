/// Hyperparameters of a LLaMA-family model, read from GGUF metadata.
public struct ModelConfig: Sendable, Codable {
    public enum RopeStyle: String, Sendable, Codable {
        /// Rotate adjacent pairs (x[2i], x[2i+1]): llama.cpp's "normal" mode, used by `llama` GGUFs
        /// (the converter permutes Q/K weights for it).
        case adjacentPairs
        /// Rotate (x[i], x[i+d/2]): llama.cpp's NEOX mode, used by `qwen2`.
        case halfSplit
    }

    public var architecture: String
    public var name: String
    public var layerCount: Int          // NL
    public var embeddingLength: Int     // D
    public var headCount: Int           // H (query heads)
    public var kvHeadCount: Int         // Hkv
    public var headDim: Int             // d
    public var feedForwardLength: Int   // F
    public var vocabSize: Int           // V
    public var contextLength: Int       // trained context
    public var rmsEps: Float
    public var ropeTheta: Float
    public var ropeDimensions: Int
    public var ropeStyle: RopeStyle
    public var hasQKVBias: Bool
    public var tiedOutput: Bool
    /// Gemma 3's extra rules (nil for llama/qwen2); see Gemma3Config.swift.
    public var gemma3: Gemma3Config?

    public var groupSize: Int { headCount / kvHeadCount }
    /// Queries and keys are RMS-normed per head before RoPE (Gemma 3's attn_q_norm / attn_k_norm).
    public var hasQKNorm: Bool { gemma3 != nil }
    public var qDim: Int { headCount * headDim }
    public var kvDim: Int { kvHeadCount * headDim }

    public static let supportedArchitectures = ["llama", "qwen2", "gemma3"]

    /// A configuration built by hand (tests, synthetic models).
    public init(layerCount: Int, embeddingLength: Int, headCount: Int, kvHeadCount: Int, headDim: Int,
                feedForwardLength: Int, vocabSize: Int, contextLength: Int = 2048, rmsEps: Float = 1e-5,
                ropeTheta: Float = 10000, ropeStyle: RopeStyle = .adjacentPairs) {
        architecture = "llama"; name = "synthetic"
        self.layerCount = layerCount; self.embeddingLength = embeddingLength; self.headCount = headCount
        self.kvHeadCount = kvHeadCount; self.headDim = headDim; self.feedForwardLength = feedForwardLength
        self.vocabSize = vocabSize; self.contextLength = contextLength; self.rmsEps = rmsEps
        self.ropeTheta = ropeTheta; ropeDimensions = headDim; self.ropeStyle = ropeStyle
        hasQKVBias = false; tiedOutput = true
    }

    public init(gguf: GGUFFile) throws {
        let arch = try gguf.requireString("general.architecture")
        guard Self.supportedArchitectures.contains(arch) else {
            throw GGUFError("\(gguf.path): architecture '\(arch)' is not supported (supported: \(Self.supportedArchitectures.joined(separator: ", ")))")
        }
        architecture = arch
        name = gguf.metadata["general.name"]?.string ?? "unnamed"
        func int(_ k: String) throws -> Int {
            let v = try gguf.requireInt("\(arch).\(k)")
            guard v > 0, v < 1 << 24 else { throw GGUFError("\(gguf.path): \(arch).\(k) = \(v) is out of range") }
            return v
        }
        layerCount = try int("block_count")
        embeddingLength = try int("embedding_length")
        headCount = try int("attention.head_count")
        kvHeadCount = gguf.metadata["\(arch).attention.head_count_kv"]?.int ?? headCount
        guard kvHeadCount > 0, headCount % kvHeadCount == 0 else {
            throw GGUFError("\(gguf.path): head_count \(headCount) is not a multiple of head_count_kv \(kvHeadCount)")
        }
        headDim = gguf.metadata["\(arch).attention.key_length"]?.int ?? embeddingLength / headCount
        guard headDim > 0, headDim % 2 == 0, headDim <= 512 else { throw GGUFError("\(gguf.path): head dimension \(headDim) is not supported") }
        feedForwardLength = try int("feed_forward_length")
        contextLength = gguf.metadata["\(arch).context_length"]?.int ?? 2048
        guard contextLength > 0, contextLength <= 1 << 28 else { throw GGUFError("\(gguf.path): \(arch).context_length \(contextLength) is out of range") }
        rmsEps = Float(gguf.metadata["\(arch).attention.layer_norm_rms_epsilon"]?.double ?? 1e-5)
        ropeTheta = Float(gguf.metadata["\(arch).rope.freq_base"]?.double ?? 10000)
        ropeDimensions = gguf.metadata["\(arch).rope.dimension_count"]?.int ?? headDim
        guard ropeDimensions >= 0, ropeDimensions <= headDim, ropeDimensions % 2 == 0 else { throw GGUFError("\(gguf.path): rope.dimension_count \(ropeDimensions) does not fit head dimension \(headDim)") }
        ropeStyle = arch == "qwen2" || arch == "gemma3" ? .halfSplit : .adjacentPairs
        hasQKVBias = gguf.tensor("blk.0.attn_q.bias") != nil
        tiedOutput = gguf.tensor("output.weight") == nil
        guard let emb = gguf.tensor("token_embd.weight") else { throw GGUFError("\(gguf.path): tensor token_embd.weight is missing") }
        guard emb.dims.count == 2, emb.dims[0] == embeddingLength else { throw GGUFError("\(gguf.path): token_embd.weight has shape \(emb.dims), expected [\(embeddingLength), vocab]") }
        vocabSize = emb.dims[1]
        gemma3 = try arch == "gemma3" ? Gemma3Config(gguf: gguf, layerCount: layerCount, headDim: headDim, embeddingLength: embeddingLength) : nil
    }
}
