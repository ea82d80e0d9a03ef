import ArgumentParser
import Foundation
import PCInference

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model: architecture, sizes, tensor types, and the BLAS kernel in use.")

    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "Print one JSON object on stdout.") var json = false

    func run() throws {
        let t0 = Date()
        let (model, tok, gguf) = try modelOptions.load()
        let loadSeconds = Date().timeIntervalSince(t0)
        let c = model.config
        let info: [String: Any] = [
            "model": modelOptions.modelPath, "name": c.name, "architecture": c.architecture,
            "gguf_version": gguf.version, "layers": c.layerCount, "embedding": c.embeddingLength,
            "heads": c.headCount, "kv_heads": c.kvHeadCount, "head_dim": c.headDim, "ffn": c.feedForwardLength,
            "vocab": c.vocabSize, "context_length": c.contextLength, "rope_theta": Double(c.ropeTheta),
            "rope_style": c.ropeStyle.rawValue, "rope_freq_factors": model.weights.rope_freqs != nil,
            "rms_eps": Double(c.rmsEps), "tied_output": c.tiedOutput, "qkv_bias": c.hasQKVBias,
            "tensor_types": model.weights.tensorTypes, "tokenizer_pre": tok.preTokenizer.rawValue,
            "chat_template": tok.chatTemplate?.rawValue ?? "none",
            "weights_bytes": model.weights.arenaBytes + model.weights.mappedBytes,
            "weights_resident_bytes": model.weights.residentWeightBytes, "weights_mapped_bytes": model.weights.mappedBytes,
            "decode_kernel": QuantMatVec.kernelName, "decode_path": model.decodePath.rawValue,
            "blas_kernel": BLAS.coreName, "blas_kernel_choice": BLASKernelSelection.report, "blas_config": BLAS.config,
            "threads": model.threads, "load_seconds": loadSeconds, "peak_rss_bytes": ProcessStats.peakRSS,
            "tokenizer": tok.isSentencePiece ? "sentencepiece" : "bpe",
            "layer_kind": (0..<c.layerCount).map { c.layerKind($0).rawValue },
        ]
        if json { try JSONOut.emit(dictionary: info); return }
        // Sliding-window models: which layers are global, and the local window.
        let globals = (0..<c.layerCount).filter { c.layerKind($0) == .global }
        let windows = globals.count == c.layerCount ? "" : "; sliding window \(c.gemma3?.slidingWindow ?? 0) except global layers \(globals.map(String.init).joined(separator: ", "))"
        let types = model.weights.tensorTypes.sorted { $0.key < $1.key }.map { "\($0.key) x\($0.value)" }.joined(separator: ", ")
        print("""
        model         \(modelOptions.modelPath)
        name          \(c.name) (\(c.architecture), GGUF v\(gguf.version))
        layers        \(c.layerCount), embedding \(c.embeddingLength), ffn \(c.feedForwardLength)\(windows)
        heads         \(c.headCount) query, \(c.kvHeadCount) key/value (group \(c.groupSize)), head dim \(c.headDim)
        vocab         \(c.vocabSize), tokenizer \(tok.isSentencePiece ? "sentencepiece" : tok.preTokenizer.rawValue), chat template \(tok.chatTemplate?.rawValue ?? "none")
        context       \(c.contextLength) tokens; RoPE theta \(c.ropeTheta) (\(c.ropeStyle.rawValue)\(model.weights.rope_freqs != nil ? ", frequency factors" : ""))
        tensors       \(types)
        weights       \(String(format: "%.0f", Double(model.weights.mappedBytes) / 1e6)) MB read in place from the file mapping + \(String(format: "%.2f", Double(model.weights.residentWeightBytes) / 1e6)) MB float32 vectors; loaded in \(String(format: "%.2f", loadSeconds)) s
        decode        \(model.decodePath.rawValue) path (BIASPROBE_DECODE_PATH=float|int8|sgemm), kernel \(QuantMatVec.kernelName)
        BLAS          \(BLASKernelSelection.report), \(model.threads) threads
        """)
    }
}

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show how a text is split into tokens.")

    @Argument(help: "The text to tokenise.") var text: String
    @Flag(help: "Treat control tokens such as <|im_start|> in the text as plain text.") var noSpecial = false
    @Option(name: .long, help: ArgumentHelp("GGUF model file (default: $BIASPROBE_MODEL or the set-up model).", valueName: "path")) var model: String?
    @Flag(help: "Print JSON on stdout.") var json = false

    func run() throws {
        let path = KnownModels.resolve(model ?? ProcessInfo.processInfo.environment["BIASPROBE_MODEL"] ?? DefaultCorpus.defaultModelPath)
        let tok = try Tokenizer(gguf: GGUFFile(path: path))
        let ids = tok.encode(text, parseSpecial: !noSpecial)
        if json {
            try JSONOut.emit(dictionary: ["ids": ids, "pieces": ids.map { tok.piece($0) }, "count": ids.count])
        } else {
            for id in ids { print(String(format: "%7d  ", id) + tok.decode([id]).debugDescription) }
            print("\(ids.count) tokens")
        }
    }
}
