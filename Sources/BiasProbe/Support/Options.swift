import ArgumentParser
import Foundation
import PCInference
import ProbeAnalysis

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
        guard InputFile.kind(path) != .missing else {
            throw CLIError("model file not found: \(path) (run scripts/setup.sh, or pass --model PATH)")
        }
        try InputFile.requireRegular(path, option: "--model")
        let gguf = try GGUFFile(path: path)
        let tok = try Tokenizer(gguf: gguf)
        let model = try LlamaModel(gguf: gguf, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        model.shouldStop = { Signals.isInterrupted }
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
struct ContextLengthList: ExpressibleByArgument, CustomStringConvertible {
    let values: [ContextLength]
    var description: String { values.map(\.text).joined(separator: ",") }
    var defaultValueDescription: String { description }
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

/// A comma-separated list of numbers (NaN and infinities refused).
struct DoubleList: ExpressibleByArgument, CustomStringConvertible {
    let values: [Double]
    init?(argument: String) {
        let v = argument.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !v.isEmpty, v.allSatisfy({ $0?.isFinite ?? false }) else { return nil }
        values = v.map { $0! }
    }
    /// How --help shows the default: "0,0.25,0.5" rather than the struct's debug form.
    var description: String { values.map { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int($0)) : String($0) }.joined(separator: ",") }
    var defaultValueDescription: String { description }
}

/// Bounds on a command's work list, checked before it is built: a huge --seeds would otherwise
/// allocate for minutes, and first-seed + seeds could wrap past Int.max.
enum WorkList {
    static let maxItems = 1_000_000

    static func check(counts: [(option: String, count: Int)], firstSeed: Int, seeds: Int) throws {
        if firstSeed.addingReportingOverflow(seeds).overflow {
            throw CLIError("--first-seed \(firstSeed) with --seeds \(seeds) runs past the largest seed \(Int.max)")
        }
        var total = 1
        for (option, n) in counts {
            let (m, overflow) = total.multipliedReportingOverflow(by: n)
            guard !overflow, m <= maxItems else {
                throw CLIError("the work list (\(counts.map { "\($0.option) \($0.count)" }.joined(separator: " x "))) would hold more than \(maxItems) examples; \(option) is too large")
            }
            total = m
        }
    }
}

/// Every ParallelComp option, shared by run, eval, trace and sweep.
struct PipelineOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Longest chunk in tokens, BOS and template included: the official context_max_len Cw (default: R - 2 (question + 1)).", valueName: "n"))
    var chunkTokens: Int?
    @Option(help: ArgumentHelp("The official raw_model_max_len R bounding a chunk pass and the final question on the character split (default: trained context - --max-tokens).", valueName: "n"))
    var rawModelMaxLen: Int?
    @Option(help: "Split the context by characters (the official code's split, the default), tokens (even token counts) or sentences (tokens, cut at a sentence end).")
    var splitBy: ParallelCompConfig.SplitBy?
    @Option(help: "Prompt layout: official (raw dataset templates, no chat markup; the default) or chat (the model's chat turn around every chunk and the question).")
    var promptLayout: PromptFormat.Layout?
    @Option(help: "Official layout: the dataset template around chunks and question: qa (LongBench multifieldqa_en, the default for run and trace), passkey (InfiniteBench) or raw. Tasks use their own.")
    var template: PromptFormat.Template?
    @Option(help: "Chunks kept for the question, chosen by lowest question NLL (default 3; eval and sweep: 1).")
    var keepChunks: Int?
    @Option(help: "Which chunks to keep: lowest (the paper) or highest NLL (the official code's positive topk quirk).")
    var select: ParallelCompConfig.Selection?
    @Option(help: "Question tokens scored for the NLL: 0 = all (default), else the last n.")
    var scoreTokens: Int?
    @Option(help: "NLL formula: official (sum over labels that are not EOS / (count - 1), the default) or mean.")
    var nllFormula: ParallelCompConfig.NLLFormula?
    @Flag(help: "Variant: no BOS before the question (official: BOS ctx BOS q in chunk passes, BOS q at the end).")
    var noQuestionBos = false
    @Option(help: "On equal chunk scores keep the later chunk (official heap) or the earlier one (variant).")
    var ties: ParallelCompConfig.TieBreak?
    @Option(help: "Rank chunks by the question's NLL (official default), the whole chunk's own NLL (query_rank=false) or a seeded random score (the shuffle ablation).")
    var ranking: ParallelCompConfig.Ranking?
    @Option(help: "Seed of --ranking random (default 0).")
    var rankingSeed: UInt64?
    @Flag(help: "Keep every kept chunk's first token in the combined cache (ablation; default keeps only the first chunk's).")
    var keepEveryFirstToken = false
    @Flag(help: "Variant: later chunks' first token may be evicted by SnapKV and chunk-stage calibration (official: never).")
    var evictChunkFirstToken = false
    @Flag(help: "Variant: with SnapKV keep later chunks' first kept token (official combine drops it, taking it for a BOS).")
    var noSnapkvDropFirstKept = false
    @Option(help: "Chunks prefilled together in one batched pass (throughput; same results; default 1).")
    var batchChunks: Int?
    @Flag(help: "Prefill every chunk, even one identical to a chunk already scored (by default such a chunk is skipped when its known score cannot be kept; results are the same).")
    var noReuseScores = false
    @Option(help: ArgumentHelp("SnapKV compression: context tokens kept per chunk and head (default off).", valueName: "n"))
    var capacity: Int?
    @Option(help: "SnapKV: last question rows that score the keys (default 8).")
    var window: Int?
    @Option(help: "SnapKV: max-pool kernel over key scores, odd (default 7).")
    var kernel: Int?
    @Option(help: "Where SnapKV compresses: in every chunk pass (official kv_cache_eviction, the default) or once after the question prefill (official stage_eviction; changes what decoding sees).")
    var compressionStage: ParallelCompConfig.Compression.Stage?
    @Option(help: ArgumentHelp("Eviction-lab policy in every chunk pass (docs/eviction-lab.md), at its reference settings: streaming, h2o, tova, snapkv (32/5/avg), snapkv-kvpress (64/5/avg), pc-snapkv (ParallelComp's 8/7/max), pyramidkv, knorm, random or expected-attention (kvpress defaults; not on QK-norm models such as Gemma 3); needs --budget or --ratio.", valueName: "name"))
    var policy: EvictionLabSettings.Kind?
    @Option(help: ArgumentHelp("--policy: context keys kept per chunk and KV head.", valueName: "n"))
    var budget: Int?
    @Option(help: ArgumentHelp("--policy: fraction of each chunk's context keys kept per KV head, in (0, 1] (kvpress's 1 - compression_ratio; kept = max(1, floor(n r))).", valueName: "r"))
    var ratio: Double?
    @Option(help: "--policy: first keys of each chunk always kept (default: 4 for streaming and expected-attention, their n_sink; 0 for the others).")
    var sink: Int?
    @Option(help: "--policy: last keys of each chunk always kept (default 0).")
    var recent: Int?
    @Option(help: "--policy random: seed of the draw (default 0).")
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
    @Option(help: "Calibration threshold on a key's mean attention from the last question rows, in (0, 1) (default 0.1).")
    var lambda: Float?
    @Option(help: "Question rows that score keys for calibration (default 1).")
    var calibrationRows: Int?
    @Option(help: "Width of the sink and recent bands for calibration (default 100).")
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
    @Option(help: ArgumentHelp("Matched control for calibration: none (official), random (as many keys per head as the rule picks, drawn at random from its candidates) or lowest (its lowest-scoring candidates).", valueName: "none|random|lowest"))
    var calibrationControl: ParallelCompConfig.CalibrationControl?
    @Option(help: "Seed of --calibration-control random.")
    var calibrationControlSeed: UInt64?
    @Option(help: "Most tokens to generate (default: run 32, trace 16, eval the task's answer length, sweep 12).")
    var maxTokens: Int?
    @Option(help: "Tokens that end decoding: eos (the official code, the default) or all (EOS, EOT and the chat end-of-turn markers).")
    var stopTokens: ParallelCompConfig.StopTokens?
    @Option(help: "Sampling temperature, finite and >= 0 (default 0 = greedy).")
    var temperature: Float?
    @Option(help: "Nucleus sampling mass, in (0, 1] (default 1).")
    var topP: Float?
    @Option(help: "Seed of temperature / top-p sampling, not of any task's pass key (default 0).")
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
        if let lab = labSettings { do { try lab.check() } catch { throw ValidationError(error.commandLineText) } }
        if compressionStage != nil && capacity == nil { throw ValidationError("--compression-stage needs --capacity N") }
        if kvCacheDynamic && capacity == nil { throw ValidationError("--kv-cache-dynamic needs --capacity N (official: it requires kv_cache_eviction)") }
        if let w = window, w < 1 { throw ValidationError("--window must be at least 1") }
        if let k = kernel, k < 1 || k % 2 == 0 { throw ValidationError("--kernel must be a positive odd number") }
        if let l = lambda, !(l > 0 && l < 1) { throw ValidationError("--lambda must be between 0 and 1, got \(l)") }
        if let r = ratio, !r.isFinite { throw ValidationError("--ratio must be a number in (0, 1], got \(r)") }
        do { try ConfigCheck.sampling(SamplingSettings(temperature: temperature ?? 0, topP: topP ?? 1)) }
        catch { throw ValidationError("\(error)") }
        if let b = bandWidth, b < 1 { throw ValidationError("--band-width must be at least 1") }
        if let b = batchChunks, b < 1 { throw ValidationError("--batch-chunks must be at least 1") }
        if let m = maxTokens, m < 1 { throw ValidationError("--max-tokens must be at least 1") }
        if let r = rawModelMaxLen, r < 64 { throw ValidationError("--raw-model-max-len must be at least 64") }
        if let r = calibrationRows, r < 0 { throw ValidationError("--calibration-rows must be 0 (every row) or more") }
        if template != nil && promptLayout == .chat { throw ValidationError("--template applies to the official prompt layout, not --prompt-layout chat") }
    }

    /// `--prompt-layout chat` needs a chat template biasprobe knows: without one the chat layout
    /// would be the official one with the question tokenised in pieces, silently.
    func checkPromptLayout(_ tok: Tokenizer, model: String) throws {
        if promptLayout == .chat { try ChatLayoutCheck.require(tok, model: model) }
    }

    /// The prompt format for a command's own text (run, trace): the layout and template asked
    /// for, with the command's instruction and answer prefix.
    func format(_ tok: Tokenizer, instruction: String, answerPrefix: String, template def: PromptFormat.Template = .qa) -> PromptFormat {
        PromptFormat.forTokenizer(tok, layout: promptLayout ?? .official, template: template ?? def, instruction: instruction, answerPrefix: answerPrefix)
    }

    /// The prompt format of a task's example (eval, sweep): its dataset template unless one is named.
    func format(_ tok: Tokenizer, example ex: RetrievalExample) -> PromptFormat {
        PromptFormat.forExample(tok, layout: promptLayout ?? .official, template: template ?? ex.template,
                                instruction: ex.instruction, answerPrefix: ex.answerPrefix)
    }

    /// The eviction lab's settings from --policy and its options (nil without --policy).
    var labSettings: EvictionLabSettings? {
        policy.map { EvictionLabSettings(kind: $0, budget: budget, ratio: ratio, sink: sink, recent: recent ?? 0, window: window, kernel: kernel,
                                         pool: pool, seed: policySeed ?? 0, perQueryHead: perQueryHead, decodeEviction: decodeEviction,
                                         setting: labSetting ?? .parallelComp, oracleChunk: oracleChunk) }
    }

    /// The pipeline configuration: defaults, then the JSON file, then flags; checked against the
    /// `model` it will run on, when given, before any work.
    func resolve(layerCount: Int, defaults: ParallelCompConfig = ParallelCompConfig(), model: ModelConfig? = nil) throws -> ParallelCompConfig {
        var c = defaults
        if let path = config { c = try ConfigFile.read(path) }
        if let v = chunkTokens { c.chunkTokens = v }
        if let v = rawModelMaxLen { c.rawModelMaxLen = v }
        if let v = stopTokens { c.stopTokens = v }
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
        if let v = calibrationControl { c.calibrationControl = v }
        if let v = calibrationControlSeed { c.calibrationControlSeed = v }
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
        try ConfigCheck.validate(c)
        if let model { do { try c.evictionLab?.check(model: model) } catch { throw ValidationError(error.commandLineText) } }
        return c
    }
}

extension ParallelCompConfig.SplitBy: ExpressibleByArgument {}
extension ParallelCompConfig.StopTokens: ExpressibleByArgument {}
extension PromptFormat.Layout: ExpressibleByArgument {}
extension PromptFormat.Template: ExpressibleByArgument {}
extension ParallelCompConfig.Selection: ExpressibleByArgument {}
extension ParallelCompConfig.NLLFormula: ExpressibleByArgument {}
extension ParallelCompConfig.TieBreak: ExpressibleByArgument {}
extension ParallelCompConfig.Ranking: ExpressibleByArgument {}
extension ParallelCompConfig.Compression.Stage: ExpressibleByArgument {}
extension ParallelCompConfig.BandEdges: ExpressibleByArgument {}
extension ParallelCompConfig.ChunkCalibrationRows: ExpressibleByArgument {}
extension EvictionAlignment: ExpressibleByArgument {}
extension ParallelCompConfig.CalibrationControl: ExpressibleByArgument {}
extension EvictionLabSettings.Kind: ExpressibleByArgument {}
extension EvictionLabSettings.Pool: ExpressibleByArgument {}
extension EvictionLabSettings.Setting: ExpressibleByArgument {}
extension RetrievalTask: ExpressibleByArgument {}

/// A comma-separated list of an enum's values (--tasks passkey,niah; --method parallelcomp,full).
struct ChoiceList<Choice: RawRepresentable & CaseIterable & Equatable>: ExpressibleByArgument, CustomStringConvertible where Choice.RawValue == String {
    let values: [Choice]
    init(_ values: [Choice]) { self.values = values }
    init?(argument: String) {
        guard let v = try? Self.parse(argument, noun: "value") else { return nil }
        self = v
    }
    /// `noun` names one value in the error ("unknown task 'x': use passkey, niah, ...").
    static func parse(_ s: String, noun: String) throws -> ChoiceList {
        let names = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty else { throw ValidationError("give at least one \(noun)") }
        return ChoiceList(try names.map { n in
            guard let c = Choice(rawValue: n) else {
                throw ValidationError("unknown \(noun) '\(n)': use \(Choice.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return c
        })
    }
    var description: String { values.map(\.rawValue).joined(separator: ",") }
    var defaultValueDescription: String { description }
}

/// The chat layout needs a chat template biasprobe knows; every command refuses it otherwise, in
/// the same one line.
enum ChatLayoutCheck {
    static func require(_ tok: Tokenizer, model: String) throws {
        guard tok.chatTemplate == nil else { return }
        throw CLIError("--prompt-layout chat: \(model) " + (tok.chatTemplateText == nil
            ? "has no chat template (a base model?)" : "has a chat template biasprobe does not know (it knows ChatML and Llama 3)")
            + "; use --prompt-layout official")
    }
}
