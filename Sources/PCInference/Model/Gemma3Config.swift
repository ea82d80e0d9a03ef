import Foundation

/// The rules Gemma 3 adds to a LLaMA-style decoder, read from `gemma3.*` GGUF metadata (sources in
/// shared/golden/gemma3/README.md). Norm weights are used as stored: the converter already wrote 1 + w.
public struct Gemma3Config: Sendable, Codable, Equatable {
    /// Local layers hide key j from query i when pos_i − pos_j ≥ this (`attention.sliding_window`).
    public var slidingWindow: Int
    /// Every `globalEvery`-th layer (il % 6 == 5) attends globally; the GGUF stores no pattern key,
    /// so this is llama.cpp's `set_swa_pattern(6)` / HF's `layer_types`.
    public var globalEvery: Int
    /// RoPE base of the local layers (`rope_freq_base_train_swa`, not in the file); global layers use `rope.freq_base`.
    public var localRopeTheta: Float
    /// Queries are scaled by 1/sqrt(query_pre_attn_scalar) = 1/sqrt(head_dim) (not stored in the GGUF).
    public var queryScale: Float
    /// The embedding rows are multiplied by sqrt(n_embd) (float32, as llama.cpp and HF do).
    public var embeddingScale: Float

    public init(slidingWindow: Int, globalEvery: Int = 6, localRopeTheta: Float = 10000, headDim: Int, embeddingLength: Int) {
        self.slidingWindow = slidingWindow; self.globalEvery = globalEvery; self.localRopeTheta = localRopeTheta
        queryScale = 1 / Float(headDim).squareRoot()
        embeddingScale = Float(embeddingLength).squareRoot()
    }

    init(gguf: GGUFFile, layerCount: Int, headDim: Int, embeddingLength: Int) throws {
        let w = gguf.metadata["gemma3.attention.sliding_window"]?.int ?? 512
        guard w > 0 else { throw GGUFError("\(gguf.path): gemma3.attention.sliding_window \(w) is out of range") }
        self.init(slidingWindow: w, headDim: headDim, embeddingLength: embeddingLength)
    }

    public func isGlobal(layer: Int) -> Bool { layer % globalEvery == globalEvery - 1 }

    /// The window of a layer, nil on global layers.
    public func window(ofLayer layer: Int) -> Int? { isGlobal(layer: layer) ? nil : slidingWindow }

    /// The extra per-layer norm tensors, in the order LlamaWeights stores them: q norm, k norm, post-attention, post-FFN.
    static func normTensors(layer l: Int, config c: ModelConfig) -> [(name: String, size: Int)] {
        [("blk.\(l).attn_q_norm.weight", c.headDim), ("blk.\(l).attn_k_norm.weight", c.headDim),
         ("blk.\(l).post_attention_norm.weight", c.embeddingLength), ("blk.\(l).post_ffw_norm.weight", c.embeddingLength)]
    }
}
