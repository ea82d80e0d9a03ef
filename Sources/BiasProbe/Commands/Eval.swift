import ArgumentParser
import Foundation
import PCInference

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Retrieval accuracy over lengths and needle depths: ParallelComp against truncation and full attention.",
        discussion: """
        passkey: a five-digit number hidden in repeated filler (InfiniteBench style).
        niah: a 'special magic number' sentence inserted into the default essays.
        Methods: parallelcomp (default keeps 1 chunk for retrieval), truncate (the last chunk-size \
        tokens only), full (ordinary causal attention over everything: positions run past the \
        trained context).

        For SmolLM2-135M use --chunk-tokens 384 --split-by sentences: the model finds a pass key in \
        a few hundred tokens but not in 8K, and chunks cut mid-sentence can split the needle \
        (outputs/03_passkey_accuracy/report.md).
        """)

    enum Task: String, ExpressibleByArgument, CaseIterable { case passkey, niah }
    enum Method: String, ExpressibleByArgument, CaseIterable, Codable { case parallelcomp, truncate, full }

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var pipeline: PipelineOptions
    @Argument(help: "passkey or niah.") var task: Task
    @Option(help: "Context lengths, comma separated (4096, 8k, 128k, 1m).", transform: ContextLengthList.argument) var lengths = ContextLengthList(argument: "8k,32k")!
    @Option(help: "Needle depths (0 = start, 1 = end).") var depths = DoubleList(argument: "0,0.25,0.5,0.75,1")!
    @Option(help: "Seeds per (length, depth).") var seeds = 1
    @Option(help: "Methods, comma separated: parallelcomp, truncate, full.") var method = "parallelcomp"
    @Flag(help: "Also measure the answer's teacher-forced NLL and the attention mass on the needle (parallelcomp).") var measure = false
    @Flag(help: "Hide progress.") var quiet = false
    @Flag(help: "JSON lines on stdout: one per example, then a summary.") var json = false

    func run() throws {
        let methods = try method.split(separator: ",").map { s -> Method in
            guard let m = Method(rawValue: String(s)) else { throw ValidationError("unknown method '\(s)': use parallelcomp, truncate or full") }
            return m
        }
        guard seeds >= 1 else { throw ValidationError("--seeds must be at least 1") }
        for d in depths.values where !(0...1).contains(d) { throw ValidationError("depth \(d) is outside 0...1") }
        let (model, tok, _) = try modelOptions.load()
        var defaults = ParallelCompConfig()
        defaults.keepChunks = 1          // the paper keeps one chunk for retrieval tasks
        defaults.maxNewTokens = 12
        let config = try pipeline.resolve(layerCount: model.config.layerCount, defaults: defaults)
        let builder = RetrievalTaskBuilder(tokenizer: tok)
        let essays = task == .niah ? try DefaultCorpus.essays() : ""
        var table: [String: (Int, Int)] = [:]
        let total = lengths.values.count * depths.values.count * seeds * methods.count
        var done = 0
        let t0 = Date()
        // One memo for the whole evaluation: the passkey's filler chunks recur across examples.
        let memo: ChunkScoreMemo? = pipeline.noReuseScores ? nil : ChunkScoreMemo()
        var reused = 0
        // Seeds outermost, so an interrupted run still covers every depth evenly.
        for L in lengths.values {
            for seed in 0..<seeds {
                for depth in depths.values {
                    let ex = task == .passkey ? builder.passkey(tokens: L.tokens, depth: depth, seed: UInt64(seed))
                                              : builder.needle(haystack: essays, tokens: L.tokens, depth: depth, seed: UInt64(seed))
                    for m in methods {
                        if Signals.isInterrupted { throw InterruptedError() }
                        let t1 = Date()
                        let (answer, kept, place) = try answerOne(ex, method: m, model: model, tok: tok, config: config, memo: memo)
                        let ok = ex.isCorrect(answer)
                        let key = "\(m.rawValue)|\(L.tokens)"
                        table[key, default: (0, 0)].0 += ok ? 1 : 0
                        table[key, default: (0, 0)].1 += 1
                        done += 1
                        reused += place["chunks_reused"] as? Int ?? 0
                        if json {
                            let row: [String: Any] = ["task": task.rawValue, "method": m.rawValue, "length": L.tokens, "depth": depth, "seed": seed,
                                                      "answer": answer, "expected": ex.answer, "correct": ok, "kept_chunks": kept,
                                                      "seconds": Date().timeIntervalSince(t1)]
                            try JSONOut.emit(dictionary: row.merging(place) { a, _ in a })
                        }
                        if !quiet {
                            Log.info(String(format: "[%d/%d] %@ %@ depth %.2f seed %d: %@ (%@) %.1fs", done, total, m.rawValue, L.text, depth, seed,
                                            ok ? "correct" : "WRONG", answer.replacingOccurrences(of: "\n", with: " "), Date().timeIntervalSince(t1)))
                        }
                    }
                }
            }
        }
        var summary: [[String: Any]] = []
        for m in methods {
            for L in lengths.values {
                let (c, n) = table["\(m.rawValue)|\(L.tokens)"] ?? (0, 0)
                summary.append(["method": m.rawValue, "length": L.tokens, "correct": c, "total": n, "accuracy": n > 0 ? Double(c) / Double(n) : 0])
            }
        }
        if json {
            try JSONOut.emit(dictionary: ["summary": summary, "config": (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(config))) ?? [:],
                                          "seconds": Date().timeIntervalSince(t0), "peak_rss_bytes": ProcessStats.peakRSS,
                                          "chunks_reused": reused])
        } else {
            print("\(task.rawValue) accuracy (\(depths.values.count) depths x \(seeds) seeds)")
            print("method".padding(toLength: 14, withPad: " ", startingAt: 0) + lengths.values.map { $0.text.padding(toLength: 10, withPad: " ", startingAt: 0) }.joined())
            for m in methods {
                var line = m.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)
                for L in lengths.values {
                    let (c, n) = table["\(m.rawValue)|\(L.tokens)"] ?? (0, 0)
                    line += "\(c)/\(n)".padding(toLength: 10, withPad: " ", startingAt: 0)
                }
                print(line)
            }
        }
    }

    /// The model's answer to one example with one method; also the kept chunks and the needle's chunk.
    func answerOne(_ ex: RetrievalExample, method: Method, model: LlamaModel, tok: Tokenizer, config: ParallelCompConfig, memo: ChunkScoreMemo?) throws -> (String, [Int], [String: Any]) {
        let format = PromptFormat.forTokenizer(tok, instruction: ex.instruction, answerPrefix: ex.answerPrefix)
        let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: format)
        pc.memo = memo
        switch method {
        case .parallelcomp:
            let o = try RetrievalRunner.run(ex, pipeline: pc, measure: measure, cancelled: { Signals.isInterrupted })
            return (o.answer, o.keptChunks, o.dictionary)   // the caller's own fields win where names repeat
        case .truncate, .full:
            let q = format.questionIDs(tok, question: ex.question)
            let prefix = format.prefixIDs(tok)
            var ctx = tok.encode(ex.context, parseSpecial: false, addBOS: false)
            if method == .truncate {
                let budget = (config.chunkTokens ?? pc.defaultChunkTokens(questionLength: q.count)) - prefix.count
                if ctx.count > budget { ctx = Array(ctx.suffix(budget)) }
            }
            let prompt = prefix + ctx + q
            let out = try Generator(model: model).generate(prompt: prompt, maxTokens: config.maxNewTokens, sampling: config.sampling,
                                                           stopTokens: tok.stopTokenIDs) { _ in !Signals.isInterrupted }
            return (tok.decode(out.filter { !tok.stopTokenIDs.contains($0) }, skipSpecial: true), [], [:])
        }
    }
}
