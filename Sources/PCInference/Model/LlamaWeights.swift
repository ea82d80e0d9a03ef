import Foundation

/// One transformer block; property names follow the GGUF tensor names `blk.N.<name>`.
public struct LlamaBlock: @unchecked Sendable {
    public let attn_norm: UnsafeMutablePointer<Float>   // [D]
    public let attn_q: Matrix                           // [H*d, D]
    public let attn_k: Matrix                           // [Hkv*d, D]
    public let attn_v: Matrix                           // [Hkv*d, D]
    public let attn_output: Matrix                      // [D, H*d]
    public let attn_q_bias: UnsafeMutablePointer<Float>?, attn_k_bias: UnsafeMutablePointer<Float>?, attn_v_bias: UnsafeMutablePointer<Float>?
    public let ffn_norm: UnsafeMutablePointer<Float>    // [D]
    public let ffn_gate: Matrix                         // [F, D]
    public let ffn_up: Matrix                           // [F, D]
    public let ffn_down: Matrix                         // [D, F]
    /// Gemma 3 only (nil otherwise): per-head q/k norms [d] and the post-norms before each residual add [D].
    public var attn_q_norm: UnsafeMutablePointer<Float>? = nil, attn_k_norm: UnsafeMutablePointer<Float>? = nil
    public var post_attention_norm: UnsafeMutablePointer<Float>? = nil, post_ffw_norm: UnsafeMutablePointer<Float>? = nil
}

/// All weights of a LLaMA-family model. Matrices stay in their GGUF encoding inside the
/// read-only file mapping (the OS pages them in on first use and may drop them under memory
/// pressure); only the small vectors (norms, biases, RoPE factors) are copied out as float32.
/// Loading therefore reads the header and touches no weight page.
public final class LlamaWeights: @unchecked Sendable {
    public let config: ModelConfig
    public let blocks: [LlamaBlock]
    public let output_norm: UnsafeMutablePointer<Float>
    /// Separate output matrix when the model does not tie it to the embedding.
    public let output: Matrix?
    /// Llama-3.1 style per-frequency RoPE divisors (`rope_freqs.weight`), when present.
    public let rope_freqs: [Float]?
    public let token_embd: EmbeddingTable
    /// Summary of tensor types, e.g. ["Q4_1": 210, "F32": 61, "Q8_0": 1].
    public let tensorTypes: [String: Int]
    /// Bytes of weights biasprobe allocated itself (the float32 vectors): what loading adds to
    /// the heap. The matrices add nothing; see `mappedBytes`.
    public let arenaBytes: Int
    /// Bytes of the matrices and embedding read in place from the file mapping.
    public let mappedBytes: Int
    /// The largest matrix, in elements: the size of one dequantisation scratch slot.
    public let largestMatrixElements: Int
    /// Elements of one layer's matrices together: the scratch that keeps a whole layer expanded.
    public let layerMatrixElements: Int
    private let arena: UnsafeMutablePointer<Float>
    /// Keeps the mapping alive as long as the weights point into it.
    private let file: GGUFFile

    public init(gguf: GGUFFile, config: ModelConfig) throws {
        self.config = config
        file = gguf
        let c = config
        var types: [String: Int] = [:]
        for t in gguf.tensors { types[t.type?.name ?? "type#\(t.typeCode)", default: 0] += 1 }
        tensorTypes = types

        var plan = TensorPlan(gguf: gguf)
        let D = c.embeddingLength
        let pending = try (0..<c.layerCount).map { try plan.layer($0, config: c) }
        let onOff = try plan.vector("output_norm.weight", D)!
        output = c.tiedOutput ? nil : try plan.matrix("output.weight", rows: c.vocabSize, cols: D)
        let ropeOff = try plan.vector("rope_freqs.weight", c.ropeDimensions / 2, optional: true)

        arenaBytes = plan.total * 4
        arena = .allocate(capacity: max(plan.total, 1))
        for p in plan.vectors {
            Dequantize.run(p.info.type!, try gguf.bytes(of: p.info), into: arena + p.offset, count: p.info.elementCount)
        }
        let base = arena
        blocks = pending.map { $0.block(base) }
        output_norm = base + onOff
        rope_freqs = ropeOff.map { Array(UnsafeBufferPointer(start: base + $0, count: c.ropeDimensions / 2)) }
        token_embd = try EmbeddingTable(gguf: gguf, rows: c.vocabSize, cols: D)
        mappedBytes = plan.mapped + token_embd.storedBytes
        let layer = pending.first.map { [$0.q, $0.k, $0.v, $0.o, $0.g, $0.u, $0.d].reduce(0) { $0 + $1.elementCount } } ?? 0
        layerMatrixElements = layer
        largestMatrixElements = pending.first.map { [$0.q, $0.k, $0.v, $0.o, $0.g, $0.u, $0.d].map(\.elementCount).max()! } ?? 0
    }

    /// Where each tensor of the file goes: matrices stay mapped (quantised), small vectors are
    /// planned into one float32 arena; every tensor is checked for presence, shape and type.
    struct TensorPlan {
        let gguf: GGUFFile
        struct Vector { let info: GGUFTensorInfo; let offset: Int }
        private(set) var vectors: [Vector] = []
        /// Floats of the arena, and bytes of the mapped matrices.
        private(set) var total = 0, mapped = 0

        func info(_ name: String, _ shape: [Int], optional: Bool = false) throws -> GGUFTensorInfo? {
            guard let t = gguf.tensor(name) else {
                if optional { return nil }
                throw GGUFError("\(gguf.path): tensor \(name) is missing")
            }
            guard t.dims == shape else { throw GGUFError("\(gguf.path): tensor \(name) has shape \(t.dims), expected \(shape)") }
            guard let type = t.type, type.canDequantize else {
                throw GGUFError("\(gguf.path): tensor \(name) has type \(t.type?.name ?? "code \(t.typeCode)"), which biasprobe cannot dequantise (supported: \(GGMLType.supportedNames))")
            }
            return t
        }
        /// The vector's offset in the arena.
        mutating func vector(_ name: String, _ n: Int, optional: Bool = false) throws -> Int? {
            guard let t = try info(name, [n], optional: optional) else { return nil }
            vectors.append(Vector(info: t, offset: total))
            total += (n + 15) / 16 * 16   // 64-byte aligned starts
            return vectors.last!.offset
        }
        mutating func matrix(_ name: String, rows: Int, cols: Int) throws -> Matrix {
            let t = try info(name, [cols, rows])!
            let m = Matrix(rows: rows, cols: cols, type: t.type!, raw: try gguf.bytes(of: t).baseAddress!)
            mapped += m.byteCount
            return m
        }

        /// Layer l's tensors, in the file's order of use.
        mutating func layer(_ l: Int, config c: ModelConfig) throws -> PendingBlock {
            let p = "blk.\(l).", D = c.embeddingLength, F = c.feedForwardLength
            let an = try vector(p + "attn_norm.weight", D)!
            let q = try matrix(p + "attn_q.weight", rows: c.qDim, cols: D)
            let k = try matrix(p + "attn_k.weight", rows: c.kvDim, cols: D)
            let v = try matrix(p + "attn_v.weight", rows: c.kvDim, cols: D)
            let o = try matrix(p + "attn_output.weight", rows: D, cols: c.qDim)
            var qb: Int?, kb: Int?, vb: Int?
            if c.hasQKVBias {
                qb = try vector(p + "attn_q.bias", c.qDim)
                kb = try vector(p + "attn_k.bias", c.kvDim)
                vb = try vector(p + "attn_v.bias", c.kvDim)
            }
            let fn = try vector(p + "ffn_norm.weight", D)!
            let g = try matrix(p + "ffn_gate.weight", rows: F, cols: D)
            let u = try matrix(p + "ffn_up.weight", rows: F, cols: D)
            let d = try matrix(p + "ffn_down.weight", rows: D, cols: F)
            var pb = PendingBlock(an: an, fn: fn, qb: qb, kb: kb, vb: vb, q: q, k: k, v: v, o: o, g: g, u: u, d: d)
            if c.gemma3 != nil {   // Gemma 3: q/k norms, post-norms (see Gemma3Config.swift)
                pb.gemma3 = try Gemma3Config.normTensors(layer: l, config: c).map { try vector($0.name, $0.size)! }
            }
            return pb
        }
    }

    /// A layer's matrices and its vectors' arena offsets, before the arena exists.
    struct PendingBlock {
        let an: Int, fn: Int, qb: Int?, kb: Int?, vb: Int?
        let q, k, v, o, g, u, d: Matrix
        var gemma3: [Int]? = nil

        func block(_ base: UnsafeMutablePointer<Float>) -> LlamaBlock {
            var blk = LlamaBlock(attn_norm: base + an, attn_q: q, attn_k: k, attn_v: v, attn_output: o,
                       attn_q_bias: qb.map { base + $0 }, attn_k_bias: kb.map { base + $0 }, attn_v_bias: vb.map { base + $0 },
                       ffn_norm: base + fn, ffn_gate: g, ffn_up: u, ffn_down: d)
            if let g = gemma3 {
                blk.attn_q_norm = base + g[0]; blk.attn_k_norm = base + g[1]
                blk.post_attention_norm = base + g[2]; blk.post_ffw_norm = base + g[3]
            }
            return blk
        }
    }

    deinit { arena.deallocate() }

    /// Heap bytes the weights occupy: the float32 vectors only.
    public var residentWeightBytes: Int { arenaBytes }
}

/// The token-embedding matrix [V, D] in its file encoding, read in place from the mapping.
/// Rows are dequantised on demand; as the tied output projection it is read whole.
public final class EmbeddingTable: @unchecked Sendable {
    public let rows: Int, cols: Int
    public let type: GGMLType
    public let matrix: Matrix
    private let file: GGUFFile

    init(gguf: GGUFFile, rows: Int, cols: Int) throws {
        guard let t = gguf.tensor("token_embd.weight"), let type = t.type, type.canDequantize else {
            throw GGUFError("\(gguf.path): token_embd.weight has a type biasprobe cannot dequantise")
        }
        guard t.dims == [cols, rows] else {
            throw GGUFError("\(gguf.path): tensor token_embd.weight has shape \(t.dims), expected \([cols, rows])")
        }
        file = gguf
        self.rows = rows; self.cols = cols; self.type = type
        matrix = Matrix(rows: rows, cols: cols, type: type, raw: try gguf.bytes(of: t).baseAddress!)
    }

    public var storedBytes: Int { matrix.byteCount }

    /// Dequantise rows [start, start+count) into y ([count, cols]).
    public func rows(_ start: Int, _ count: Int, into y: UnsafeMutablePointer<Float>) {
        matrix.dequantize(rows: start, start + count, into: y)
    }
}

/// A tiny lock-protected box for collecting a value from concurrent workers.
final class LockedBox<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ v: T) { value = v }
    func set(_ v: T) { lock.lock(); value = v; lock.unlock() }
    func get() -> T { lock.lock(); defer { lock.unlock() }; return value }
    func update(_ f: (inout T) -> Void) { lock.lock(); f(&value); lock.unlock() }
}
