import ArgumentParser
import Foundation
import PCInference
import ProbeAnalysis

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
        if json {
            try JSONOut.emit(ModelInfo(
                model: modelOptions.modelPath, name: c.name, architecture: c.architecture, ggufVersion: gguf.version,
                layers: c.layerCount, embedding: c.embeddingLength, heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim,
                ffn: c.feedForwardLength, vocab: c.vocabSize, contextLength: c.contextLength, ropeTheta: Double(c.ropeTheta),
                ropeStyle: c.ropeStyle.rawValue, ropeFreqFactors: model.weights.rope_freqs != nil, rmsEps: Double(c.rmsEps),
                tiedOutput: c.tiedOutput, qkvBias: c.hasQKVBias, tensorTypes: model.weights.tensorTypes,
                tokenizerPre: tok.preTokenizer.rawValue, chatTemplate: tok.chatTemplate?.rawValue ?? "none",
                weightsBytes: model.weights.arenaBytes + model.weights.mappedBytes, weightsResidentBytes: model.weights.residentWeightBytes,
                weightsMappedBytes: model.weights.mappedBytes, decodeKernel: QuantMatVec.kernelName, decodePath: model.decodePath.rawValue,
                blasKernel: BLAS.coreName, blasKernelChoice: BLASStartup.report, blasConfig: BLAS.config, threads: model.threads,
                loadSeconds: loadSeconds, peakRSSBytes: ProcessStats.peakRSS, tokenizer: tok.isSentencePiece ? "sentencepiece" : "bpe",
                layerKind: (0..<c.layerCount).map { c.layerKind($0).rawValue }))
            return
        }
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
        BLAS          \(BLASStartup.report), \(model.threads) threads
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
            struct Tokens: Encodable { var ids: [Int], pieces: [String], count: Int }
            try JSONOut.emit(Tokens(ids: ids, pieces: ids.map { tok.piece($0) }, count: ids.count))
        } else {
            for id in ids { print(String(format: "%7d  ", id) + tok.decode([id]).debugDescription) }
            print("\(ids.count) tokens")
        }
    }
}

/// `info --json`.
struct ModelInfo: Encodable {
    var model, name, architecture: String
    var ggufVersion, layers, embedding, heads, kvHeads, headDim, ffn, vocab, contextLength: Int
    var ropeTheta: Double, ropeStyle: String, ropeFreqFactors: Bool, rmsEps: Double, tiedOutput: Bool, qkvBias: Bool
    var tensorTypes: [String: Int]
    var tokenizerPre, chatTemplate: String
    var weightsBytes, weightsResidentBytes, weightsMappedBytes: Int
    var decodeKernel, decodePath, blasKernel, blasKernelChoice, blasConfig: String
    var threads: Int, loadSeconds: Double, peakRSSBytes: Int, tokenizer: String, layerKind: [String]

    enum CodingKeys: String, CodingKey {
        case model, name, architecture, ggufVersion = "gguf_version", layers, embedding, heads, kvHeads = "kv_heads", headDim = "head_dim"
        case ffn, vocab, contextLength = "context_length", ropeTheta = "rope_theta", ropeStyle = "rope_style"
        case ropeFreqFactors = "rope_freq_factors", rmsEps = "rms_eps", tiedOutput = "tied_output", qkvBias = "qkv_bias"
        case tensorTypes = "tensor_types", tokenizerPre = "tokenizer_pre", chatTemplate = "chat_template", weightsBytes = "weights_bytes"
        case weightsResidentBytes = "weights_resident_bytes", weightsMappedBytes = "weights_mapped_bytes", decodeKernel = "decode_kernel"
        case decodePath = "decode_path", blasKernel = "blas_kernel", blasKernelChoice = "blas_kernel_choice", blasConfig = "blas_config"
        case threads, loadSeconds = "load_seconds", peakRSSBytes = "peak_rss_bytes", tokenizer, layerKind = "layer_kind"
    }
}
