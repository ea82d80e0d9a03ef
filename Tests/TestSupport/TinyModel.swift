import Foundation
import PCInference

/// A tiny LLaMA GGUF for the tests that check mechanics (sharding, merging, resuming, refusals,
/// report plumbing, two paths that must agree bit for bit) and never the model's numbers:
/// SmolLM2's tokenizer and chat template, copied from the default model, over four layers of
/// width 64 with random float32 weights from a fixed seed. A pass costs a small fraction of
/// SmolLM2's (the tied output projection, 49152 x 64, dominates), and the same bytes come out in
/// every process, so its sha256 is stable too. Tests whose assertions need the real model's
/// behaviour (golden numbers, a needle found, a ranking of real text) stay on the default model.
/// Shared by both test targets (TestSupport is XCTest-free: callers turn a missing source model
/// into their own skip or failure).
public enum TinyModel {
    /// llama.* hyperparameters: 4 query heads over 2 KV heads (GQA, as SmolLM2's 9 over 3); four layers
    /// so that layer quarters and `plot layer 3` exist (a layer costs ~1% of the 49152-row output).
    public static let layers = 4, embedding = 64, heads = 4, kvHeads = 2, headDim = 16, feedForward = 128

    nonisolated(unsafe) private static var made: String?
    nonisolated(unsafe) private static var loaded: (LlamaModel, Tokenizer)?
    private static let lock = NSLock()

    /// The file's path, built from `source` (the default model: its tokenizer and metadata). Its
    /// name is a hash of its bytes, in one folder shared by test processes: each version is
    /// written once (atomically, so concurrent processes are safe) and none is left per process.
    public static func path(source: String) throws -> String {
        lock.lock(); defer { lock.unlock() }
        if let made { return made }
        let image = try bytes(from: GGUFFile(path: source))
        var h: UInt64 = 0xcbf2_9ce4_8422_2325   // FNV-1a
        for b in image { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("biasprobe-tiny-model-\(getuid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let out = dir.appendingPathComponent("tiny-llama-\(String(h, radix: 16)).gguf")
        if (try? Data(contentsOf: out, options: .alwaysMapped)) != image { try image.write(to: out, options: .atomic) }
        made = out.path
        return out.path
    }

    /// The model (weights kept expanded, as for many short pipeline passes) and its tokenizer,
    /// loaded once per process.
    public static func model(source: String) throws -> (LlamaModel, Tokenizer) {
        let file = try path(source: source)
        lock.lock(); defer { lock.unlock() }
        if let loaded { return loaded }
        let gguf = try GGUFFile(path: file)
        let model = try LlamaModel(gguf: gguf, threads: ProcessInfo.processInfo.activeProcessorCount)
        model.expandWeights()
        loaded = (model, try Tokenizer(gguf: gguf))
        return loaded!
    }

    /// The GGUF image: every metadata key of `source` but its llama.* hyperparameters and its
    /// alignment (kept in file order), the tiny hyperparameters, and the tensors.
    public static func bytes(from source: GGUFFile) throws -> Data {
        var kv: [(String, GGUFValue)] = source.metadataKeys.compactMap { k in
            guard !k.hasPrefix("llama."), k != "general.alignment", k != "general.file_type" else { return nil }
            return (k, k == "general.name" ? .string("biasprobe tiny test model") : source.metadata[k]!)
        }
        let copied = ["context_length", "rope.freq_base", "attention.layer_norm_rms_epsilon"]
        kv += copied.compactMap { k in source.metadata["llama." + k].map { ("llama." + k, $0) } }
        kv += [("llama.block_count", .uint32(UInt32(layers))), ("llama.embedding_length", .uint32(UInt32(embedding))),
               ("llama.feed_forward_length", .uint32(UInt32(feedForward))), ("llama.attention.head_count", .uint32(UInt32(heads))),
               ("llama.attention.head_count_kv", .uint32(UInt32(kvHeads))), ("llama.rope.dimension_count", .uint32(UInt32(headDim))),
               ("general.file_type", .uint32(0))]   // all float32
        guard let vocab = source.tensor("token_embd.weight")?.dims.last else { throw TinyModelError("\(source.path): no token_embd.weight") }

        // Tensors as (name, GGUF dims [in, out], values); scales keep attention neither uniform
        // nor one-hot (scores of a few units) and the logits peaked.
        var rng = SplitMix64(seed: 0x7157_1e55)
        func random(_ n: Int, _ scale: Float) -> [Float] { (0..<n).map { _ in rng.uniform() * scale } }
        let D = embedding, F = feedForward, q = heads * headDim, kvd = kvHeads * headDim
        var tensors: [(String, [Int], [Float])] = [("token_embd.weight", [D, vocab], random(D * vocab, 1)),
                                                   ("output_norm.weight", [D], Array(repeating: 1, count: D))]
        for l in 0..<layers {
            let p = "blk.\(l)."
            tensors += [(p + "attn_norm.weight", [D], Array(repeating: 1, count: D)),
                        (p + "attn_q.weight", [D, q], random(D * q, 0.3)), (p + "attn_k.weight", [D, kvd], random(D * kvd, 0.3)),
                        (p + "attn_v.weight", [D, kvd], random(D * kvd, 0.3)), (p + "attn_output.weight", [q, D], random(q * D, 0.2)),
                        (p + "ffn_norm.weight", [D], Array(repeating: 1, count: D)),
                        (p + "ffn_gate.weight", [D, F], random(D * F, 0.3)), (p + "ffn_up.weight", [D, F], random(D * F, 0.3)),
                        (p + "ffn_down.weight", [F, D], random(F * D, 0.2))]
        }

        var w = Writer()
        w.bytes(Array("GGUF".utf8)); w.u32(3); w.u64(UInt64(tensors.count)); w.u64(UInt64(kv.count))
        for (k, v) in kv { w.string(k); try w.typed(v) }
        var offset = 0
        for (name, dims, values) in tensors {
            w.string(name); w.u32(UInt32(dims.count))
            for d in dims { w.u64(UInt64(d)) }
            w.u32(GGMLType.f32.rawValue); w.u64(UInt64(offset))
            offset += (values.count * 4 + 31) / 32 * 32
        }
        for (_, _, values) in tensors {
            w.align(32)
            for v in values { w.u32(v.bitPattern) }
        }
        return Data(w.out)
    }

    /// Little-endian GGUF encoding.
    private struct Writer {
        var out: [UInt8] = []
        mutating func bytes(_ b: [UInt8]) { out += b }
        mutating func int<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        mutating func u32(_ v: UInt32) { int(v) }
        mutating func u64(_ v: UInt64) { int(v) }
        mutating func string(_ s: String) { u64(UInt64(s.utf8.count)); out += Array(s.utf8) }
        mutating func align(_ n: Int) { out += [UInt8](repeating: 0, count: (n - out.count % n) % n) }

        static func type(of v: GGUFValue) -> GGUFValueType {
            switch v {
            case .uint8: return .uint8; case .int8: return .int8; case .uint16: return .uint16; case .int16: return .int16
            case .uint32: return .uint32; case .int32: return .int32; case .uint64: return .uint64; case .int64: return .int64
            case .float32: return .float32; case .float64: return .float64; case .bool: return .bool
            case .string: return .string; case .array: return .array
            }
        }
        /// A value preceded by its type tag.
        mutating func typed(_ v: GGUFValue) throws { u32(Self.type(of: v).rawValue); try value(v) }
        mutating func value(_ v: GGUFValue) throws {
            switch v {
            case .uint8(let x): int(x)
            case .int8(let x): int(x)
            case .uint16(let x): int(x)
            case .int16(let x): int(x)
            case .uint32(let x): int(x)
            case .int32(let x): int(x)
            case .uint64(let x): int(x)
            case .int64(let x): int(x)
            case .float32(let x): u32(x.bitPattern)
            case .float64(let x): u64(x.bitPattern)
            case .bool(let x): out.append(x ? 1 : 0)
            case .string(let s): string(s)
            case .array(let a):
                let t = a.first.map(Self.type(of:)) ?? .uint8
                guard a.allSatisfy({ Self.type(of: $0) == t }) else { throw TinyModelError("a metadata array mixes element types") }
                u32(t.rawValue); u64(UInt64(a.count))
                // Elements carry no tag of their own (a nested array's is its element type).
                for e in a { try value(e) }
            }
        }
    }
}

extension SplitMix64 {
    /// Uniform in [-1, 1), from the top 24 bits (exact in Float): a fixed, platform-independent stream.
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}

public struct TinyModelError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
