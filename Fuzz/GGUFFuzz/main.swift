// libFuzzer target: arbitrary bytes as a GGUF model file.
//
// Everything biasprobe does with a model file before it runs text through it is exercised:
// the header and tensor table (GGUFFile), every metadata value, dequantisation of every tensor
// the table points at, the model configuration, the tokenizer, and (for small inputs) building
// the model and one forward pass of two tokens. Work per input is capped so that a valid but
// huge tensor cannot time out: at most `dequantBudget` floats are dequantised in all.
//
// Built by Fuzz/build.sh with -sanitize=fuzzer,address at -O (bounds and overflow checks on:
// the release build's -Ounchecked would turn a missed check into silent memory corruption,
// here it traps and libFuzzer reports it).
import Foundation
import PCInference

/// Floats dequantised per input, all tensors together.
private let dequantBudget = 1 << 20
/// Largest model (sum of all tensor elements) that is built and run.
private let modelBudget = 1 << 18

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let file: GGUFFile
    do { file = try GGUFFile(bytes: bytes, name: "fuzz.gguf") } catch { return 0 }
    readMetadata(file)
    dequantiseEverything(file)
    runModel(file)
    return 0
}

private func readMetadata(_ f: GGUFFile) {
    for key in f.metadataKeys {
        guard let v = f.metadata[key] else { fatalError("metadataKeys lists \(key), metadata lacks it") }
        _ = v.summary; _ = v.int; _ = v.double; _ = v.string; _ = v.bool
        if let a = v.array { for e in a.prefix(64) { _ = e.summary } }
    }
    for t in f.tensors {
        _ = t.type?.name; _ = t.byteCount
        if f.tensor(t.name) == nil { fatalError("tensor \(t.name) is listed but not found by name") }
    }
}

private func dequantiseEverything(_ f: GGUFFile) {
    var budget = dequantBudget
    for t in f.tensors {
        guard let raw = try? f.bytes(of: t) else {
            // Unknown type or geometry: floats must refuse it too.
            if (try? f.floats(t)) != nil { fatalError("floats accepted \(t.name), bytes refused it") }
            continue
        }
        // The promise of the open-time checks: the raw bytes lie inside the file's data section.
        guard t.offset >= 0, f.dataOffset + t.offset + raw.count <= f.fileSize else {
            fatalError("tensor \(t.name) at \(t.offset) + \(raw.count) bytes lies outside the file")
        }
        guard let type = t.type, type.canDequantize else {
            if (try? f.floats(t)) != nil { fatalError("floats accepted an undequantisable \(t.name)") }
            continue
        }
        let n = t.elementCount
        if n <= budget {
            guard let v = try? f.floats(t) else { fatalError("floats refused \(t.name), which bytes accepted") }
            if v.count != n { fatalError("floats gave \(v.count) of \(n) values") }
            budget -= n
        } else if budget > 0, let g = type.blockGeometry {
            // A valid but huge tensor: dequantise its first whole blocks only.
            let blocks = min(budget / g.elements, raw.count / g.bytes)
            guard blocks > 0 else { continue }
            let count = blocks * g.elements
            let out = UnsafeMutablePointer<Float>.allocate(capacity: count)
            defer { out.deallocate() }
            Dequantize.run(type, UnsafeRawBufferPointer(rebasing: raw[0..<(blocks * g.bytes)]), into: out, count: count)
            budget -= count
        }
    }
}

private func runModel(_ f: GGUFFile) {
    _ = try? ModelConfig(gguf: f)
    if let tok = try? Tokenizer(gguf: f) {
        for text in ["Hello world", "<|im_start|>user\n12 34 déjà vu<|im_end|>", "\u{0}\u{7f}\u{ff}"] {
            let ids = tok.encode(text)
            _ = tok.decode(ids)
            for id in ids where !(0..<tok.vocabSize).contains(id) { fatalError("encode gave id \(id) outside the vocabulary") }
        }
        _ = tok.decode([-1, 0, tok.vocabSize, Int.max])
    }
    var elements = 0
    for t in f.tensors { elements += t.elementCount; if elements > modelBudget { return } }
    guard let model = try? LlamaModel(gguf: f, threads: 1) else { return }
    let V = model.config.vocabSize
    let cache = model.makeCache()
    _ = try? model.forward(tokens: [0, min(1, V - 1)], positions: [0, 1], cache: cache, logitRows: [1])
}
