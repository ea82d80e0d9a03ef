import ArgumentParser
import Foundation
import PCInference

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer a question about a long text with ParallelComp; show chunk scores and which chunks were kept.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var pipeline: PipelineOptions
    @Option(help: "Text file holding the long context.") var context: String
    @Option(help: "The question.") var question: String
    @Option(help: "Instruction placed before every chunk.") var instruction = ""
    @Option(help: "Start of the answer, placed after the assistant header (e.g. 'The answer is').") var answerPrefix = ""
    @Flag(help: "Hide the progress bar.") var quiet = false
    @Flag(help: "Print one JSON object (config, chunks, answer) on stdout.") var json = false

    func run() throws {
        guard let text = try? String(contentsOfFile: context, encoding: .utf8) else { throw CLIError("cannot read \(context) as UTF-8 text") }
        let (model, tok, _) = try modelOptions.load()
        let config = try pipeline.resolve(layerCount: model.config.layerCount)
        let format = PromptFormat.forTokenizer(tok, instruction: instruction, answerPrefix: answerPrefix)
        let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: format)
        if pipeline.noReuseScores { pc.memo = nil }
        let prep = try pc.prepare(context: text, question: question)
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

/// What `run --json` prints: enough to reproduce the run.
struct RunReport: Encodable {
    let config: ParallelCompConfig
    let format: PromptFormat
    let result: ParallelCompPipeline.Result
    let documentTokens: Int
    let chunkTokens: Int
    let peakRSSBytes: Int
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
    if !quiet { Log.info("memory estimate: \(est.summary)") }
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
