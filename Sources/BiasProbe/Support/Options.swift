import ArgumentParser
import Foundation
import PCInference

/// Which model to load, shared by every command that runs one.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("GGUF model file or a short name (smollm2, gemma3) of one scripts/setup.sh fetched (default: $BIASPROBE_MODEL, else smollm2).", valueName: "path|name"))
    var model: String?

    @Option(name: .long, help: "Worker threads for BLAS and attention (default: all cores).")
    var threads: Int?

    var modelPath: String {
        KnownModels.resolve(model ?? ProcessInfo.processInfo.environment["BIASPROBE_MODEL"] ?? DefaultCorpus.defaultModelPath)
    }

    func validate() throws {
        if let t = threads, t < 1 || t > 256 { throw ValidationError("--threads must be between 1 and 256") }
    }

    /// Open the GGUF, then load model and tokenizer.
    func load() throws -> (LlamaModel, Tokenizer, GGUFFile) {
        let path = modelPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIError("model file not found: \(path) (run scripts/setup.sh, or pass --model PATH)")
        }
        let gguf = try GGUFFile(path: path)
        let tok = try Tokenizer(gguf: gguf)
        let model = try LlamaModel(gguf: gguf, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        return (model, tok, gguf)
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A context length: a token count such as 4096, 8k, 128k or 1m (k = 1024, m = 1024*1024).
struct ContextLength: ExpressibleByArgument, CustomStringConvertible, Codable, Equatable {
    let tokens: Int
    let text: String

    init?(argument: String) {
        guard let t = Self.parse(argument) else { return nil }
        tokens = t; text = argument
    }
    init(tokens: Int) { self.tokens = tokens; text = String(tokens) }

    static func parse(_ s: String) -> Int? {
        let lower = s.lowercased().trimmingCharacters(in: .whitespaces)
        var mult = 1
        var digits = Substring(lower)
        if lower.hasSuffix("k") { mult = 1024; digits = lower.dropLast() }
        else if lower.hasSuffix("m") { mult = 1024 * 1024; digits = lower.dropLast() }
        guard !digits.isEmpty, digits.allSatisfy(\.isNumber), let n = Int(digits), n > 0, n <= 16 * 1024 * 1024 / mult else { return nil }
        return n * mult
    }

    var description: String { text }
    static var defaultValueDescription: String { "tokens: 4096, 8k, 128k or 1m" }

    /// For `@Option(transform:)`: a precise message instead of ArgumentParser's generic one.
    static func argument(_ s: String) throws -> ContextLength {
        guard let v = ContextLength(argument: s) else {
            throw ValidationError("invalid context length '\(s)': use a token count such as 4096, 8k, 128k or 1m")
        }
        return v
    }
}

/// A comma-separated list of context lengths.
struct ContextLengthList: ExpressibleByArgument {
    let values: [ContextLength]
    init?(argument: String) {
        guard let v = try? Self.argument(argument) else { return nil }
        self = v
    }
    init(values: [ContextLength]) { self.values = values }

    static func argument(_ s: String) throws -> ContextLengthList {
        let parts = try s.split(separator: ",").map { try ContextLength.argument(String($0)) }
        guard !parts.isEmpty else { throw ValidationError("give at least one context length, e.g. 8k,32k") }
        return ContextLengthList(values: parts)
    }
}

/// A comma-separated list of numbers.
struct DoubleList: ExpressibleByArgument {
    let values: [Double]
    init?(argument: String) {
        let v = argument.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !v.isEmpty, v.allSatisfy({ $0 != nil }) else { return nil }
        values = v.map { $0! }
    }
}

/// Every ParallelComp option, shared by run, eval, trace and sweep.
struct PipelineOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Longest chunk in tokens, prefix included (default: trained context - question - answer budget).", valueName: "n"))
    var chunkTokens: Int?
    @Option(help: "Split the context by tokens (even token counts), sentences (tokens, cut at a sentence end) or characters (as the official code does).")
    var splitBy: ParallelCompConfig.SplitBy?
    @Option(help: "Chunks kept for the question, chosen by lowest question NLL (default 3).")
    var keepChunks: Int?
    @Option(help: "Which chunks to keep: lowest (the paper) or highest NLL (the official code's positive topk quirk).")
    var select: ParallelCompConfig.Selection?
    @Option(help: "Question tokens scored for the NLL: 0 = all, else the last n.")
    var scoreTokens: Int?
    @Option(help: "NLL formula: official (sum over labels that are not EOS / (count - 1), the default) or mean.")
    var nllFormula: ParallelCompConfig.NLLFormula?
    @Flag(help: "Variant: no BOS before the question (official: BOS ctx BOS q in chunk passes, BOS q at the end).")
    var noQuestionBos = false
    @Option(help: "On equal chunk scores keep the later chunk (official heap) or the earlier one (variant).")
    var ties: ParallelCompConfig.TieBreak?
    @Option(help: "Rank chunks by the question's NLL (official default), the whole chunk's own NLL (query_rank=false) or a seeded random score (the shuffle ablation).")
    var ranking: ParallelCompConfig.Ranking?
    @Option(help: "Seed of --ranking random.")
    var rankingSeed: UInt64?
    @Flag(help: "Keep every kept chunk's first token in the combined cache (ablation; default keeps only the first chunk's).")
    var keepEveryFirstToken = false
    @Flag(help: "Variant: later chunks' first token may be evicted by SnapKV and chunk-stage calibration (official: never).")
    var evictChunkFirstToken = false
    @Flag(help: "Variant: with SnapKV keep later chunks' first kept token (official combine drops it, taking it for a BOS).")
    var noSnapkvDropFirstKept = false
    @Option(help: "Chunks prefilled together in one batched pass (throughput; same results).")
    var batchChunks: Int?
    @Flag(help: "Prefill every chunk, even one identical to a chunk already scored (by default such a chunk is skipped when its known score cannot be kept; results are the same).")
    var noReuseScores = false
    @Option(help: ArgumentHelp("SnapKV compression: context tokens kept per chunk and head (default off).", valueName: "n"))
    var capacity: Int?
    @Option(help: "SnapKV: last question rows that score the keys.")
    var window: Int?
    @Option(help: "SnapKV: max-pool kernel over key scores.")
    var kernel: Int?
    @Option(help: "Where SnapKV compresses: in every chunk pass (official kv_cache_eviction, the default) or once after the question prefill (official stage_eviction; changes what decoding sees).")
    var compressionStage: ParallelCompConfig.Compression.Stage?
    @Option(help: ArgumentHelp("Eviction-lab policy in every chunk pass (docs/eviction-lab.md), at its reference settings: streaming, h2o, tova, snapkv (32/5/avg), snapkv-kvpress (64/5/avg), pc-snapkv (ParallelComp's 8/7/max), pyramidkv, knorm or random; needs --budget or --ratio.", valueName: "name"))
    var policy: EvictionLabSettings.Kind?
    @Option(help: ArgumentHelp("--policy: context keys kept per chunk and KV head.", valueName: "n"))
    var budget: Int?
    @Option(help: ArgumentHelp("--policy: fraction of each chunk's context keys kept per KV head, in (0, 1] (kvpress's 1 - compression_ratio; kept = max(1, floor(n r))).", valueName: "r"))
    var ratio: Double?
    @Option(help: "--policy: first keys of each chunk always kept (default: 4 for streaming, its n_sink; 0 for the others).")
    var sink: Int?
    @Option(help: "--policy: last keys of each chunk always kept.")
    var recent: Int?
    @Option(help: "--policy random: seed of the draw.")
    var policySeed: UInt64?
    @Option(help: "--policy snapkv family: pooling of the window scores, avg or max (default: the policy's reference).")
    var pool: EvictionLabSettings.Pool?
    @Flag(help: "Variant for --policy: every query head selects its own keys (default: one set per KV head from the group's mean score, as kvpress, so budgets are memory).")
    var perQueryHead = false
    @Option(help: ArgumentHelp("--policy: parallelcomp (eviction in every chunk pass, question appended; default) or kvpress (with --causal: the context alone is prefilled and compressed, then the question).", valueName: "setting"))
    var labSetting: EvictionLabSettings.Setting?
    @Flag(help: "--policy in the ParallelComp setting: always keep the chunk holding the evidence, so eviction is measured apart from chunk selection.")
    var oracleChunk = false
    @Flag(help: "Variant for --policy tova or h2o: keep evicting during decoding as the paper does (one key per head and generated token; TOVA drops the key the newest token attends to least, H2O the lowest accumulated attention outside the --recent window). Off by default.")
    var decodeEviction = false
    @Flag(help: "Variant: plain causal attention within the trained context (the whole context is one chunk); with --policy, the lab's eviction runs on it.")
    var causal = false
    @Option(help: ArgumentHelp("Calibration rules: 'paper' (per chunk, appendix C; 'paper@query' at the question), BAND:FIRST-LAST[@chunk|@query],... with BAND sink|middle|recent|all and 0-based layers, or the official strings such as prefill_2_calibration_head_sink_23_29.", valueName: "rules"))
    var calibration: String?
    @Option(help: "Calibration threshold on a key's mean attention from the last question rows.")
    var lambda: Float?
    @Option(help: "Question rows that score keys for calibration.")
    var calibrationRows: Int?
    @Option(help: "Width of the sink and recent bands for calibration.")
    var bandWidth: Int?
    @Flag(inversion: .prefixedNo, help: "Pad every head's eviction to the same count (official code).")
    var equalizeHeads = true
    @Option(help: "Calibration band edges: official (sink i < w, recent i > n - w, middle strictly between) or tiled.")
    var bandEdges: ParallelCompConfig.BandEdges?
    @Flag(help: "Keep evicting during decoding (official kv_cache_dynamic, off by default): one key per head and token, scored by the last --window rows; needs --capacity.")
    var kvCacheDynamic = false
    @Flag(help: "Variant: question-stage calibration never evicts the question's own keys (official: it may).")
    var protectQuestionKeys = false
    @Option(help: "Rows of a chunk pass that lose chunk-stage calibration's keys: all (official) or question.")
    var chunkCalibrationRows: ParallelCompConfig.ChunkCalibrationRows?
    @Option(help: "How a pass's rows see keys evicted during it: official (bottom-right-aligned shortened cache) or masked.")
    var evictionAlignment: EvictionAlignment?
    @Option(help: "Most tokens to generate.")
    var maxTokens: Int?
    @Option(help: "Sampling temperature (0 = greedy).")
    var temperature: Float?
    @Option(help: "Nucleus sampling mass.")
    var topP: Float?
    @Option(help: "Seed of temperature / top-p sampling (not of any task's pass key).")
    var samplingSeed: UInt64?
    @Option(help: ArgumentHelp("Read pipeline settings from a JSON file (the `config` object of --json output); flags override it.", valueName: "file"))
    var config: String?

    func validate() throws {
        if let k = keepChunks, k < 1 { throw ValidationError("--keep-chunks must be at least 1") }
        if let c = chunkTokens, c < 32 { throw ValidationError("--chunk-tokens must be at least 32") }
        if let c = capacity, c < 1 { throw ValidationError("--capacity must be at least 1") }
        if policy == nil && (budget != nil || ratio != nil || sink != nil || recent != nil || policySeed != nil || decodeEviction
                             || pool != nil || perQueryHead || labSetting != nil || oracleChunk) {
            throw ValidationError("--budget, --ratio, --sink, --recent, --policy-seed, --pool, --per-query-head, --lab-setting, --oracle-chunk and --decode-eviction need --policy NAME")
        }
        if labSetting == .kvpress && !causal { throw ValidationError("--lab-setting kvpress needs --causal (one context inside the trained context)") }
        if policy != nil && capacity != nil { throw ValidationError("--policy cannot be combined with --capacity: use --policy snapkv --budget N") }
        if let lab = labSettings { do { try lab.check() } catch { throw ValidationError("\(error)") } }
        if compressionStage != nil && capacity == nil { throw ValidationError("--compression-stage needs --capacity N") }
        if kvCacheDynamic && capacity == nil { throw ValidationError("--kv-cache-dynamic needs --capacity N (official: it requires kv_cache_eviction)") }
        if let w = window, w < 1 { throw ValidationError("--window must be at least 1") }
        if let k = kernel, k < 1 || k % 2 == 0 { throw ValidationError("--kernel must be a positive odd number") }
        if let l = lambda, !(l > 0 && l < 1) { throw ValidationError("--lambda must be between 0 and 1") }
        if let b = bandWidth, b < 1 { throw ValidationError("--band-width must be at least 1") }
        if let b = batchChunks, b < 1 { throw ValidationError("--batch-chunks must be at least 1") }
        if let m = maxTokens, m < 1 { throw ValidationError("--max-tokens must be at least 1") }
    }

    /// The eviction lab's settings from --policy and its options (nil without --policy).
    var labSettings: EvictionLabSettings? {
        policy.map { EvictionLabSettings(kind: $0, budget: budget, ratio: ratio, sink: sink, recent: recent ?? 0, window: window, kernel: kernel,
                                         pool: pool, seed: policySeed ?? 0, perQueryHead: perQueryHead, decodeEviction: decodeEviction,
                                         setting: labSetting ?? .parallelComp, oracleChunk: oracleChunk) }
    }

    /// The pipeline configuration: defaults, then the JSON file, then flags.
    func resolve(layerCount: Int, defaults: ParallelCompConfig = ParallelCompConfig()) throws -> ParallelCompConfig {
        var c = defaults
        if let path = config {
            guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read config file \(path)") }
            do { c = try JSONDecoder().decode(ParallelCompConfig.self, from: data) }
            catch { throw CLIError("config file \(path) is not a valid pipeline config: \(error.localizedDescription)") }
        }
        if let v = chunkTokens { c.chunkTokens = v }
        if let v = splitBy { c.splitBy = v }
        if let v = keepChunks { c.keepChunks = v }
        if let v = select { c.selection = v }
        if let v = scoreTokens { c.scoreTokens = v }
        if let v = nllFormula { c.nllFormula = v }
        if noQuestionBos { c.questionBOS = false }
        if let v = ties { c.tieBreak = v }
        if let v = ranking { c.ranking = v }
        if let v = rankingSeed { c.rankingSeed = v }
        if keepEveryFirstToken { c.keepEveryChunkFirstToken = true }
        if evictChunkFirstToken { c.evictChunkFirstToken = true }
        if noSnapkvDropFirstKept { c.snapKVDropFirstKept = false }
        if let v = bandEdges { c.bandEdges = v }
        if protectQuestionKeys { c.protectQuestionKeys = true }
        if let v = chunkCalibrationRows { c.chunkCalibrationRows = v }
        if let v = evictionAlignment { c.evictionAlignment = v }
        if let v = batchChunks { c.batchChunks = v }
        if let cap = capacity { c.compression = .init(capacity: cap, window: window ?? 8, kernel: kernel ?? 7, stage: compressionStage ?? .chunk,
                                                      decodeEviction: kvCacheDynamic) }
        if let lab = labSettings { c.evictionLab = lab }
        if causal { c.causal = true }
        if let s = calibration { c.calibration = try CalibrationRule.parseList(s, layerCount: layerCount) }
        if let v = lambda { c.lambda = v }
        if let v = calibrationRows { c.calibrationRows = v }
        if let v = bandWidth { c.bandWidth = v }
        if !equalizeHeads { c.equalizeHeads = false }
        if let v = maxTokens { c.maxNewTokens = v }
        if let v = temperature { c.sampling.temperature = v }
        if let v = topP { c.sampling.topP = v }
        if let v = samplingSeed { c.sampling.seed = v }
        return c
    }
}

extension ParallelCompConfig.SplitBy: ExpressibleByArgument {}
extension ParallelCompConfig.Selection: ExpressibleByArgument {}
extension ParallelCompConfig.NLLFormula: ExpressibleByArgument {}
extension ParallelCompConfig.TieBreak: ExpressibleByArgument {}
extension ParallelCompConfig.Ranking: ExpressibleByArgument {}
extension ParallelCompConfig.Compression.Stage: ExpressibleByArgument {}
extension ParallelCompConfig.BandEdges: ExpressibleByArgument {}
extension ParallelCompConfig.ChunkCalibrationRows: ExpressibleByArgument {}
extension EvictionAlignment: ExpressibleByArgument {}
extension EvictionLabSettings.Kind: ExpressibleByArgument {}
extension EvictionLabSettings.Pool: ExpressibleByArgument {}
extension EvictionLabSettings.Setting: ExpressibleByArgument {}
extension RetrievalTask: ExpressibleByArgument {}
