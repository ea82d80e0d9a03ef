import ArgumentParser
import Foundation
import PCInference
import ProbeAnalysis

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer a question about a long text with ParallelComp; show chunk scores and which chunks were kept.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var pipeline: PipelineOptions
    @Option(help: ArgumentHelp("Text file holding the long context (as trace --input).", valueName: "file")) var input: String?
    /// The old spelling of --input; `--context` is a length in trace and eval.
    @Option(help: .hidden) var context: String?
    var document: String? { input ?? context }
    @Option(help: "The question.") var question: String?
    @Option(help: ArgumentHelp("Exact token ids instead of text: JSON {\"chunks\": [[ids...], ...], \"question\": [ids...]}, context and question without BOS (the pipeline adds it, as the official code does; add \"exact\": true to take the chunk ids as they are).", valueName: "file"))
    var tokenLayout: String?
    @Option(help: "Instruction placed before every chunk (official layout: replaces the template's words before the text).") var instruction = ""
    @Option(help: "Start of the answer, placed after the question (chat layout: after the assistant header), e.g. 'The answer is'.") var answerPrefix = ""
    @Flag(help: "Hide the progress bar.") var quiet = false
    @Flag(help: "Print one JSON object (config, chunks, answer) on stdout.") var json = false

    func validate() throws {
        if input != nil && context != nil { throw ValidationError("--context is the old name of --input: give one") }
        if tokenLayout == nil && (document == nil || question == nil) { throw ValidationError("give --input FILE and --question TEXT, or --token-layout FILE") }
        if tokenLayout != nil && (document != nil || question != nil) { throw ValidationError("--token-layout replaces --input and --question; give one or the other") }
        if let q = question, q.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw ValidationError("--question is empty: give the question to answer") }
    }

    func run() throws {
        let (model, tok, _) = try modelOptions.load()
        try pipeline.checkPromptLayout(tok, model: modelOptions.modelPath)
        let config = try pipeline.resolve(layerCount: model.config.layerCount, model: model.config)
        let format = pipeline.format(tok, instruction: instruction, answerPrefix: answerPrefix)
        let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: format)
        if pipeline.noReuseScores { pc.memo = nil }
        let prep: ParallelCompPipeline.Prepared
        if let tokenLayout {
            let layout = try TokenLayout.read(tokenLayout)
            try layout.check(contextLength: model.config.contextLength, vocabulary: model.config.vocabSize, path: tokenLayout)
            prep = try layout.prepared(bos: pc.bosID)
        } else {
            if context != nil { Log.info("note: run --context FILE is now --input FILE (--context is a length in trace and eval)") }
            let text = try InputFile.text(document ?? "", option: input != nil ? "--input" : "--context")
            // Tokenised once where Ctrl-C can stop it; prepare() then finds every word cached.
            _ = try tok.encode(text, parseSpecial: false, addBOS: false, cancelled: { Signals.isInterrupted })
            prep = try pc.prepare(context: text, question: question ?? "")
        }
        let result = try runWithProgress(pc, prep, quiet: quiet || json)
        if json {
            try JSONOut.emit(RunReport(config: config, format: format, result: result, documentTokens: prep.documentTokenCount,
                                       chunkTokens: prep.chunkTokens, peakRSSBytes: ProcessStats.peakRSS))
            return
        }
        print("chunks (\(prep.chunks.count) of up to \(prep.chunkTokens) tokens, \(prep.documentTokenCount) document tokens):")
        for ch in result.chunks {
            print(String(format: "  %3d  %5d tokens  NLL %.4f  %@", ch.id, ch.contextLength, ch.nll ?? .nan, ch.kept ? "kept" : ""))
        }
        print("answer: \(answerPrefix.isEmpty ? "" : answerPrefix)\(result.answer)")
    }
}

/// What `run --json` prints: enough to reproduce the run, and the fields of the official-pipeline
/// reference (`../shared/golden/parallelcomp_official.json`) under their names there.
struct RunReport: Encodable {
    let config: ParallelCompConfig
    let format: PromptFormat
    let result: ParallelCompPipeline.Result
    let documentTokens: Int
    let chunkTokens: Int
    let peakRSSBytes: Int

    /// What each eviction removed. `decode` is per step, [step][layer][head]; `decode_union` the
    /// same keys over all steps, [layer][head].
    struct Evicted: Encodable {
        let query: [[[Int]]]?; let chunk: [String: [[[Int]]]]; let stage: [[[Int]]]?; let decode: [[[[Int]]]]; let decodeUnion: [[[Int]]]?
        enum CodingKeys: String, CodingKey { case query, chunk, stage, decode, decodeUnion = "decode_union" }
    }

    enum CodingKeys: String, CodingKey {
        case config, format, result, documentTokens = "document_tokens", chunkTokens = "chunk_tokens", peakRSSBytes = "peak_rss_bytes"
        case chunkNLL = "chunk_nll", kept, P, S, sPerLayer = "S_per_layer", evicted, snapkvKept = "snapkv_kept"
        case top20IDs = "top20_ids", top20Logits = "top20_logits", answerIDs = "answer_ids", questionIDs = "question_ids"
        case chunkQuestionIDs = "chunk_question_ids", decodeTop20 = "decode_top20"
    }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(config, forKey: .config); try c.encode(format, forKey: .format); try c.encode(result, forKey: .result)
        try c.encode(documentTokens, forKey: .documentTokens); try c.encode(chunkTokens, forKey: .chunkTokens)
        try c.encode(peakRSSBytes, forKey: .peakRSSBytes)
        try c.encode(result.chunks.map { $0.nll ?? .nan }, forKey: .chunkNLL)
        try c.encode(result.keptChunkIDs, forKey: .kept)
        try c.encode(result.queryPosition, forKey: .P)
        try c.encode(result.nominalCacheLength, forKey: .S)
        try c.encode(result.cachePerLayer, forKey: .sPerLayer)
        try c.encode(Evicted(query: result.evictedQuery, chunk: result.evictedChunk, stage: result.evictedStage,
                             decode: result.evictedDecodeSteps, decodeUnion: result.evictedDecode), forKey: .evicted)
        try c.encode(result.chunks.map { $0.questionTokens ?? result.chunkPassQuestion }, forKey: .chunkQuestionIDs)
        try c.encode(result.decodeTop20, forKey: .decodeTop20)
        try c.encode(result.snapKVKept, forKey: .snapkvKept)
        try c.encode(result.top20IDs, forKey: .top20IDs)
        try c.encode(result.top20Logits, forKey: .top20Logits)
        try c.encode(result.answerIDs, forKey: .answerIDs)
        try c.encode(result.questionIDs, forKey: .questionIDs)
    }
}

/// A `--token-layout` file: chunks and question as token ids.
struct TokenLayout: Decodable {
    let chunks: [[Int]]
    let question: [Int]
    /// Take the chunk ids as they are (no BOS added).
    var exact: Bool? = nil

    static func read(_ path: String) throws -> TokenLayout {
        try decode(InputFile.data(path, option: "--token-layout"), path: path)
    }

    func prepared(bos: Int?) throws -> ParallelCompPipeline.Prepared {
        try .init(chunkTokenIDs: chunks, questionIDs: question, bos: exact == true ? nil : bos)
    }
}

/// Runs the pipeline with a progress bar on stderr and Ctrl-C support.
func runWithProgress(_ pc: ParallelCompPipeline, _ prep: ParallelCompPipeline.Prepared, observers: [AttentionObserver] = [],
                     quiet: Bool, label: String = "chunks") throws -> ParallelCompPipeline.Result {
    // Refuse up front what would not fit, with the estimate and the limit.
    let est = MemoryEstimate.parallelComp(model: pc.model, chunkLengths: prep.chunks.map(\.contextLength), questionLength: prep.questionIDs.count,
                                          keep: pc.config.keepChunks, maxNewTokens: pc.config.maxNewTokens, observed: !observers.isEmpty,
                                          workers: pc.model.threads)
    let limit = ProcessInfo.processInfo.environment["BIASPROBE_MEMORY_LIMIT"].flatMap(parseBytes) ?? MemoryEstimate.availableBytes()
    if let limit, est.total > limit {
        throw CLIError("this run needs about \(est.summary), more than the \(String(format: "%.2f", Double(limit) / 1e9)) GB available; use smaller --chunk-tokens or --keep-chunks")
    }
    if !quiet { Log.info(Plan.run(pc, prep)); Log.info("memory estimate: \(est.summary)") }
    if pc.config.keepChunks > prep.chunks.count {
        Log.info("note: --keep-chunks \(pc.config.keepChunks) is more than the \(prep.chunks.count) chunks of this input; keeping all")
    }
    let bar = ProgressBar(label, total: prep.chunks.count, quiet: quiet)
    var done = 0, tokens = 0
    do {
        let r = try pc.run(prep, observers: observers, progress: { ev in
            switch ev {
            case .chunkFinished(_, _, let t, _): done += 1; tokens += t; bar.update(done, tokens: tokens)
            case .queryPrefill(let keys, _): bar.finish(); if !quiet { Log.info("question over \(keys) kept keys") }
            default: break
            }
        }, cancelled: { Signals.isInterrupted })
        return r
    } catch is CancellationError {
        bar.finish()
        throw InterruptedError()
    }
}

/// "2G", "1500M", "800k" or a plain byte count (powers of 1000).
func parseBytes(_ s: String) -> Int? {
    let t = s.trimmingCharacters(in: .whitespaces).uppercased()
    let mult: [Character: Double] = ["K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12]
    if let last = t.last, let m = mult[last], let v = Double(t.dropLast()), v > 0 { return Int(v * m) }
    return Double(t).flatMap { $0 > 0 ? Int($0) : nil }
}
