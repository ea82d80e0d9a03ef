import Foundation

/// A float32 matrix stored [rows, cols] row-major; for a linear layer rows = out, cols = in
/// (GGUF stores ne = [in, out], which is the same memory order).
public struct Matrix: @unchecked Sendable {
    public let rows: Int, cols: Int
    public let data: UnsafeMutablePointer<Float>
    init(rows: Int, cols: Int, data: UnsafeMutablePointer<Float>) { self.rows = rows; self.cols = cols; self.data = data }
}

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

/// All weights of a LLaMA-family model, dequantised to float32 into one arena.
/// The token embedding stays in its GGUF encoding (usually Q8_0) and is dequantised by rows on
/// demand: it is the largest tensor and each forward pass needs only a few of its rows, except
/// for the output projection, which streams it in slabs.
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
    public let arenaBytes: Int
    private let arena: UnsafeMutablePointer<Float>

    public init(gguf: GGUFFile, config: ModelConfig) throws {
        self.config = config
        let c = config
        var types: [String: Int] = [:]
        for t in gguf.tensors { types[t.type?.name ?? "type#\(t.typeCode)", default: 0] += 1 }
        tensorTypes = types

        // Plan every float32 tensor's place in one arena, checking shapes first.
        struct Plan { let name: String; let info: GGUFTensorInfo; let offset: Int }
        var plans: [Plan] = []
        var total = 0
        func plan(_ name: String, _ shape: [Int], optional: Bool = false) throws -> Int? {
            guard let t = gguf.tensor(name) else {
                if optional { return nil }
                throw GGUFError("\(gguf.path): tensor \(name) is missing")
            }
            guard t.dims == shape else { throw GGUFError("\(gguf.path): tensor \(name) has shape \(t.dims), expected \(shape)") }
            guard let type = t.type, type.canDequantize else {
                throw GGUFError("\(gguf.path): tensor \(name) has type \(t.type?.name ?? "code \(t.typeCode)"), which biasprobe cannot dequantise (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q8_0, Q4_K, Q6_K)")
            }
            let off = total
            total += (t.elementCount + 15) / 16 * 16   // 64-byte aligned starts
            plans.append(Plan(name: name, info: t, offset: off))
            return off
        }
        let D = c.embeddingLength, F = c.feedForwardLength
        struct BlockOffsets { var an = 0, q = 0, k = 0, v = 0, o = 0, fn = 0, g = 0, u = 0, d = 0; var qb: Int?, kb: Int?, vb: Int?; var gemma3: [Int]? }
        var offs: [BlockOffsets] = []
        for l in 0..<c.layerCount {
            var b = BlockOffsets()
            b.an = try plan("blk.\(l).attn_norm.weight", [D])!
            b.q = try plan("blk.\(l).attn_q.weight", [D, c.qDim])!
            b.k = try plan("blk.\(l).attn_k.weight", [D, c.kvDim])!
            b.v = try plan("blk.\(l).attn_v.weight", [D, c.kvDim])!
            b.o = try plan("blk.\(l).attn_output.weight", [c.qDim, D])!
            if c.hasQKVBias {
                b.qb = try plan("blk.\(l).attn_q.bias", [c.qDim])
                b.kb = try plan("blk.\(l).attn_k.bias", [c.kvDim])
                b.vb = try plan("blk.\(l).attn_v.bias", [c.kvDim])
            }
            b.fn = try plan("blk.\(l).ffn_norm.weight", [D])!
            b.g = try plan("blk.\(l).ffn_gate.weight", [D, F])!
            b.u = try plan("blk.\(l).ffn_up.weight", [D, F])!
            b.d = try plan("blk.\(l).ffn_down.weight", [F, D])!
            if c.gemma3 != nil {   // Gemma 3: q/k norms, post-norms (see Gemma3Config.swift)
                b.gemma3 = try Gemma3Config.normTensors(layer: l, config: c).map { try plan($0.name, [$0.size])! }
            }
            offs.append(b)
        }
        let onOff = try plan("output_norm.weight", [D])!
        let outOff = c.tiedOutput ? nil : try plan("output.weight", [D, c.vocabSize])
        let ropeOff = try plan("rope_freqs.weight", [c.ropeDimensions / 2], optional: true)

        arenaBytes = total * 4
        arena = .allocate(capacity: max(total, 1))
        let base = arena
        let shared = SharedPointer(arena)
        // Dequantise tensors in parallel; each writes its own slice of the arena.
        let planList = plans
        let failure = LockedBox<Error?>(nil)
        DispatchQueue.concurrentPerform(iterations: planList.count) { i in
            let p = planList[i]
            do {
                let raw = try gguf.bytes(of: p.info)
                Dequantize.run(p.info.type!, raw, into: shared.p + p.offset, count: p.info.elementCount)
            } catch { failure.set(error) }
        }
        if let e = failure.get() { arena.deallocate(); throw e }

        func mat(_ off: Int, _ r: Int, _ cc: Int) -> Matrix { Matrix(rows: r, cols: cc, data: base + off) }
        blocks = offs.map { b in
            var blk = LlamaBlock(attn_norm: base + b.an, attn_q: mat(b.q, c.qDim, D), attn_k: mat(b.k, c.kvDim, D),
                       attn_v: mat(b.v, c.kvDim, D), attn_output: mat(b.o, D, c.qDim),
                       attn_q_bias: b.qb.map { base + $0 }, attn_k_bias: b.kb.map { base + $0 }, attn_v_bias: b.vb.map { base + $0 },
                       ffn_norm: base + b.fn, ffn_gate: mat(b.g, F, D), ffn_up: mat(b.u, F, D), ffn_down: mat(b.d, D, F))
            if let g = b.gemma3 {
                blk.attn_q_norm = base + g[0]; blk.attn_k_norm = base + g[1]
                blk.post_attention_norm = base + g[2]; blk.post_ffw_norm = base + g[3]
            }
            return blk
        }
        output_norm = base + onOff
        output = outOff.map { mat($0, c.vocabSize, D) }
        rope_freqs = ropeOff.map { Array(UnsafeBufferPointer(start: base + $0, count: c.ropeDimensions / 2)) }
        token_embd = try EmbeddingTable(gguf: gguf, rows: c.vocabSize, cols: D)
    }

    deinit { arena.deallocate() }
}

/// The token-embedding matrix [V, D] kept in its file encoding, copied out of the mapping so the
/// GGUF file can be closed. Rows are dequantised on demand.
public final class EmbeddingTable: @unchecked Sendable {
    public let rows: Int, cols: Int
    public let type: GGMLType
    private let bytesPerRow: Int
    private let storage: UnsafeMutableRawPointer

    init(gguf: GGUFFile, rows: Int, cols: Int) throws {
        guard let t = gguf.tensor("token_embd.weight"), let type = t.type, type.canDequantize else {
            throw GGUFError("\(gguf.path): token_embd.weight has a type biasprobe cannot dequantise")
        }
        let raw = try gguf.bytes(of: t)
        self.rows = rows; self.cols = cols; self.type = type
        bytesPerRow = raw.count / rows
        storage = .allocate(byteCount: raw.count, alignment: 64)
        storage.copyMemory(from: raw.baseAddress!, byteCount: raw.count)
    }
    deinit { storage.deallocate() }

    public var storedBytes: Int { bytesPerRow * rows }

    /// Dequantise rows [start, start+count) into y ([count, cols]).
    public func rows(_ start: Int, _ count: Int, into y: UnsafeMutablePointer<Float>) {
        let raw = UnsafeRawBufferPointer(start: storage + start * bytesPerRow, count: count * bytesPerRow)
        Dequantize.run(type, raw, into: y, count: count * cols)
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
