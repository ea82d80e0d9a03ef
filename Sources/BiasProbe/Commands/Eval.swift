import ArgumentParser
import Foundation
import PCInference
import ProbeAnalysis

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Retrieval accuracy over lengths and needle depths: ParallelComp against truncation and full attention.",
        discussion: """
        passkey: a five-digit number hidden in repeated filler (InfiniteBench style).
        niah: a 'special magic number' sentence inserted into the default essays.
        mk-niah: four such sentences for four cities, one asked; mv-niah: four numbers for one \
        city, all asked; kv: a JSON-like object of random hex keys, one value asked (InfiniteBench \
        kv_retrieval); vt: a chain of four variable assignments in the essays, every name asked \
        (RULER); ppl: the teacher-forced NLL of 64 held-out tokens continuing the essays (never \
        'correct'; the table shows the mean NLL). Every example is fixed by its seed.
        Methods: parallelcomp (default keeps 1 chunk for retrieval), truncate (the last chunk-size \
        tokens only), full (ordinary causal attention over everything: positions run past the \
        trained context), causal (the pipeline with the whole context as one chunk, within the \
        trained context; with --policy the eviction lab's policy evicts from it).

        For SmolLM2-135M use --chunk-tokens 384 --split-by sentences: the model finds a pass key in \
        a few hundred tokens but not in 8K, and chunks cut mid-sentence can split the needle \
        (outputs/03_passkey_accuracy/report.md).

        With --shard I/N (or inside a Slurm job array) only part I of N of the examples runs, into \
        OUT.part-I-of-N.jsonl; 'biasprobe eval merge OUT' writes the lines an unsharded \
        'eval --json --out OUT' writes.
        """)

    typealias Task = RetrievalTask
    enum Method: String, ExpressibleByArgument, CaseIterable, Codable { case parallelcomp, truncate, full, causal }

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var pipeline: PipelineOptions
    @Argument(help: "passkey, niah, mk-niah, mv-niah, kv, vt or ppl.") var task: Task
    @Option(help: "Context lengths, comma separated: 4096, 8k, 128k, 1m (default 8k,32k).", transform: ContextLengthList.argument) var lengths = ContextLengthList(argument: "8k,32k")!
    @Option(help: ArgumentHelp("Needle depths, comma separated (0 = start, 1 = end).", valueName: "list")) var depths = DoubleList(argument: "0,0.25,0.5,0.75,1")!
    @Option(help: "Seeds per (length, depth).") var seeds = 1
    @Option(help: "The first seed: seeds run first-seed ..< first-seed + seeds, so a second run (to another --out) adds seeds to an earlier one without repeating any.") var firstSeed = 0
    @Option(help: "Methods, comma separated: parallelcomp, truncate, full, causal.", transform: { try ChoiceList.parse($0, noun: "method") })
    var method = ChoiceList<Method>([.parallelcomp])
    @Flag(help: "Also measure the answer's teacher-forced NLL and the attention mass on the needle (parallelcomp).") var measure = false
    @Flag(help: "Hide progress.") var quiet = false
    @Flag(help: "JSON lines on stdout: one per example, then a summary.") var json = false
    @Option(help: ArgumentHelp("Also write those JSON lines to FILE (with --shard: the part FILE.part-I-of-N.jsonl).", valueName: "file"))
    var out: String?
    @Option(help: ArgumentHelp("Run only part I of N of the examples (lengths x seeds x depths x methods, balanced by estimated cost); merge the parts with 'biasprobe eval merge'. Default: from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT when set.", valueName: "I/N"))
    var shard: Shard?
    @Flag(help: "With --shard: start the part over instead of resuming it.") var restart = false

    /// One example with one method: an item of the work list, in the order an unsharded run takes them.
    struct Item { var length: ContextLength; var seed: Int; var depth: Double; var method: Method }

    func run() throws {
        let methods = method.values
        guard seeds >= 1 else { throw ValidationError("--seeds must be at least 1") }
        guard firstSeed >= 0 else { throw ValidationError("--first-seed must be at least 0") }
        for d in depths.values where !(0...1).contains(d) { throw ValidationError("--depths: depth \(d) is outside 0...1") }
        try WorkList.check(counts: [("--lengths", lengths.values.count), ("--seeds", seeds), ("--depths", depths.values.count), ("--method", methods.count)],
                           firstSeed: firstSeed, seeds: seeds)
        let shard = try self.shard ?? Shard.fromEnvironment()
        if let out {
            try OutputFile.check(shard.map { $0.partPath(for: out) } ?? out, option: "--out",
                                 inputs: [("--config", pipeline.config), ("--model", modelOptions.modelPath)], createsFolder: shard != nil)
        }
        let (model, tok, _) = try modelOptions.load()
        try pipeline.checkPromptLayout(tok, model: modelOptions.modelPath)
        var defaults = ParallelCompConfig()
        defaults.keepChunks = 1          // the paper keeps one chunk for retrieval tasks
        defaults.maxNewTokens = task.answerTokens
        let config = try pipeline.resolve(layerCount: model.config.layerCount, defaults: defaults, model: model.config)
        let builder = RetrievalTaskBuilder(tokenizer: tok)
        let essays = task.needsEssays ? try DefaultCorpus.essays() : ""
        let items = workItems(methods)
        let costs = items.map { Self.cost($0, config: config, contextLength: model.config.contextLength) }
        if !quiet { logPlan(items: items, costs: costs, methods: methods.count, model: model) }
        let t0 = Date()
        // One memo for the whole evaluation: the passkey's filler chunks recur across examples.
        let memo: ChunkScoreMemo? = pipeline.noReuseScores ? nil : ChunkScoreMemo()

        /// Runs one item; the row eval prints for it.
        func runItem(_ it: Item, _ n: Int, _ total: Int) throws -> EvalRow {
            if Signals.isInterrupted { throw InterruptedError() }
            let ex = task.example(builder, essays: essays, tokens: it.length.tokens, depth: it.depth, seed: UInt64(it.seed))
            let t1 = Date()
            let (answer, kept, outcome) = try answerOne(ex, method: it.method, model: model, tok: tok, config: config, memo: memo)
            let ok = ex.isCorrect(answer)
            if !quiet {
                Log.info(String(format: "[%d/%d] %@ %@ depth %.2f seed %d: %@ (%@) %.1fs", n, total, it.method.rawValue, it.length.text, it.depth, it.seed,
                                ok ? "correct" : "WRONG", answer.replacingOccurrences(of: "\n", with: " "), Date().timeIntervalSince(t1)))
            }
            var row = EvalRow(task: task, method: it.method, length: it.length.tokens, depth: it.depth, seed: it.seed,
                              answer: answer, expected: ex.answer, correct: ok, keptChunks: kept, seconds: Date().timeIntervalSince(t1))
            if let outcome { row.add(outcome) }
            return row
        }

        if let shard { return try runShard(shard, items: items, costs: costs, config: config, runItem: runItem) }

        var rows: [EvalRow] = []
        for (n, it) in items.enumerated() {
            let row = try runItem(it, n + 1, items.count)
            rows.append(row)
            if json { print(try JSONCoding.line(row)) }
        }
        let summary = Self.summary(rows: rows, config: config, seconds: Date().timeIntervalSince(t0), peakRSS: Int64(ProcessStats.peakRSS))
        if json { print(try JSONCoding.line(summary)) } else { print(Self.table(rows: rows, depths: depths.values.count, seeds: seeds, names: lengths.values)) }
        if let out { try Self.lines(rows, summary).write(toFile: out, atomically: true, encoding: .utf8) }
    }

    /// The work list: seeds outermost within a length, so an interrupted run still covers every
    /// depth evenly.
    func workItems(_ methods: [Method]) -> [Item] {
        var items: [Item] = []
        for L in lengths.values { for seed in firstSeed..<(firstSeed + seeds) { for depth in depths.values { for m in methods { items.append(Item(length: L, seed: seed, depth: depth, method: m)) } } } }
        return items
    }

    /// An item's work in token-equivalents (attention counted as extra tokens), for sharding and
    /// for the plan line.
    static func cost(_ it: Item, config: ParallelCompConfig, contextLength: Int) -> Double {
        let ct = config.chunkTokens ?? contextLength
        switch it.method {
        case .parallelcomp, .causal: return WorkPartition.retrievalCost(contextTokens: it.length.tokens, chunkTokens: ct, keepChunks: config.keepChunks)
        case .truncate: return WorkPartition.retrievalCost(contextTokens: ct, chunkTokens: ct, keepChunks: 0)
        case .full: return WorkPartition.retrievalCost(contextTokens: it.length.tokens, chunkTokens: it.length.tokens, keepChunks: 0)
        }
    }

    func logPlan(items: [Item], costs: [Double], methods: Int, model: LlamaModel) {
        let rate = Plan.quickRate(model.config, threads: model.threads)
        let secs = costs.reduce(0, +) * FlopCount.linearPerToken(model.config) / (0.8 * rate * 1e9)
        Log.info("plan: \(items.count) examples (\(lengths.values.count) lengths x \(seeds) seeds x \(depths.values.count) depths x \(methods) methods), "
                 + "about \(Plan.duration(secs)) at most (repeated filler chunks are scored once, so usually much less; sgemm \(Int(rate)) GFLOP/s now)")
    }

    /// This shard's items of the work list, appended row by row to its part file (resumed when
    /// the part holds the same work list).
    func runShard(_ shard: Shard, items: [Item], costs: [Double], config: ParallelCompConfig,
                  runItem: (Item, Int, Int) throws -> EvalRow) throws {
        let methods = method.values
        let settings = try JSONCoding.line(EvalSettings(task: task, lengths: lengths.values.map(\.tokens), depths: depths.values, seeds: seeds,
                                                        methods: methods, measure: measure,
                                                        firstSeed: firstSeed == 0 ? nil : firstSeed, config: config, model: modelOptions.modelPath))
        let mine = WorkPartition.items(costs: costs, shards: shard.count, index: shard.index - 1)
        let workList = SHA256Hasher.hex(settings + "\n" + costs.map { String($0) }.joined(separator: ","))
        let path = shard.partPath(for: out ?? "eval.jsonl")
        let header = PartHeader(shard: shard.description, settings: settings, modelSHA256: try sha256(of: modelOptions.modelPath),
                                     workList: workList, totalItems: items.count, items: mine, host: hostName)
        let (part, resumed) = try EvalPart<EvalRow>.resuming(path: path, header: header, rowName: "eval", restart: restart, what: "eval")
        if resumed && !quiet { Log.info("resuming shard \(shard): \(mine.count - part.missing.count) of \(mine.count) items already in \(path)") }
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder.isEmpty ? "." : folder, withIntermediateDirectories: true)
        try part.write(path: path)   // drops a line a killed task left cut short
        let todo = part.missing
        for (n, i) in todo.enumerated() {
            let row = try runItem(items[i], n + 1, todo.count)
            try EvalPart.append(path: path, item: i, peakRSS: Int64(ProcessStats.peakRSS), row: row)
            if json { print(try JSONCoding.line(row)) }
        }
        if !json { print("shard \(shard): \(mine.count) of \(items.count) items in \(path); merge the parts with: biasprobe eval merge \(out ?? "eval.jsonl")") }
    }

    /// Accuracy and mean answer NLL per (method, length) from the rows, in order of first appearance.
    static func tally(_ rows: [EvalRow]) -> [(method: Method, length: Int, correct: Int, total: Int, nll: Double?)] {
        var out: [(method: Method, length: Int, correct: Int, total: Int, nll: Double?)] = []
        var nll: [Double] = [], measured: [Int] = []
        for o in rows {
            let (m, L, ok) = (o.method, o.length, o.correct)
            var i = out.firstIndex { $0.method == m && $0.length == L } ?? -1
            if i < 0 { out.append((m, L, 0, 0, nil)); nll.append(0); measured.append(0); i = out.count - 1 }
            out[i].correct += ok ? 1 : 0; out[i].total += 1
            if let a = o.answerNLL, a.isFinite { nll[i] += a; measured[i] += 1; out[i].nll = nll[i] / Double(measured[i]) }
        }
        return out
    }

    /// What `eval --json` and `--out` write: the rows, then the summary, one JSON line each.
    static func lines(_ rows: [EvalRow], _ summary: EvalSummary) throws -> String {
        try rows.map { try JSONCoding.line($0) + "\n" }.joined() + JSONCoding.line(summary) + "\n"
    }

    /// The summary line of --json: accuracy per method and length (methods outermost), the config, and run figures.
    static func summary(rows: [EvalRow], config: ParallelCompConfig, seconds: Double, peakRSS: Int64) -> EvalSummary {
        let t = tally(rows)
        var methods: [Method] = [], lengths: [Int] = []
        for x in t { if !methods.contains(x.method) { methods.append(x.method) }; if !lengths.contains(x.length) { lengths.append(x.length) } }
        var summary: [EvalSummary.Cell] = []
        for m in methods {
            for L in lengths {
                let x = t.first { $0.method == m && $0.length == L }
                let (c, n) = (x?.correct ?? 0, x?.total ?? 0)
                summary.append(.init(method: m, length: L, correct: c, total: n, accuracy: n > 0 ? Double(c) / Double(n) : 0, meanAnswerNLL: x?.nll))
            }
        }
        let reused = rows.reduce(0) { $0 + ($1.chunksReused ?? 0) }
        return EvalSummary(summary: summary, config: config, seconds: seconds, peakRSSBytes: peakRSS, chunksReused: reused)
    }

    /// The plain-text accuracy table.
    static func table(rows: [EvalRow], depths: Int, seeds: Int, names: [ContextLength] = []) -> String {
        let t = tally(rows)
        let task = rows.first?.task.rawValue ?? "eval"
        var methods: [Method] = [], lengths: [Int] = []
        for x in t { if !methods.contains(x.method) { methods.append(x.method) }; if !lengths.contains(x.length) { lengths.append(x.length) } }
        var s = "\(task) \(task == RetrievalTask.ppl.rawValue ? "mean answer NLL" : "accuracy") (\(depths) depths x \(seeds) seeds)\n"
        s += "method".padding(toLength: 14, withPad: " ", startingAt: 0) + lengths.map { L in (names.first { $0.tokens == L } ?? ContextLength(tokens: L)).text.padding(toLength: 10, withPad: " ", startingAt: 0) }.joined()
        for m in methods {
            var l = "\n" + m.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)
            for L in lengths {
                let x = t.first { $0.method == m && $0.length == L }
                // ppl is scored by its answer NLL alone: the mean NLL (perplexity = exp of it).
                let cell = task == RetrievalTask.ppl.rawValue ? String(format: "%.3f", x?.nll ?? .nan) : "\(x?.correct ?? 0)/\(x?.total ?? 0)"
                l += cell.padding(toLength: 10, withPad: " ", startingAt: 0)
            }
            s += l
        }
        return s
    }

    /// The model's answer to one example with one method; also the kept chunks and the needle's chunk.
    func answerOne(_ ex: RetrievalExample, method: Method, model: LlamaModel, tok: Tokenizer, config: ParallelCompConfig, memo: ChunkScoreMemo?) throws -> (String, [Int], RetrievalOutcome?) {
        let format = pipeline.format(tok, example: ex)
        let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: format)
        pc.memo = memo
        switch method {
        case .parallelcomp, .causal:
            var c = config
            c.causal = c.causal || method == .causal
            let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: c, format: format)
            pc.memo = memo
            let o = try RetrievalRunner.run(ex, pipeline: pc, measure: measure || ex.scoredOnly, cancelled: { Signals.isInterrupted })
            return (o.answer, o.keptChunks, o)
        case .truncate, .full:
            let q = format.questionIDs(tok, question: ex.question)
            // One causal prompt: the chunk's lead (BOS and template, or the chat prefix), the
            // context, the template's end, the question.
            let lead = format.leadIDs(tok), tail = format.suffixIDs(tok)
            var ctx = tok.encode(ex.context, parseSpecial: false, addBOS: false)
            if method == .truncate {
                let budget = (config.chunkTokens ?? pc.defaultChunkTokens(questionLength: q.count)) - lead.count - tail.count
                if ctx.count > budget { ctx = Array(ctx.suffix(budget)) }
            }
            let prompt = lead + ctx + tail + q
            let out = try Generator(model: model).generate(prompt: prompt, maxTokens: config.maxNewTokens, sampling: config.sampling,
                                                           stopTokens: tok.stopTokenIDs) { _ in !Signals.isInterrupted }
            return (tok.decode(out.filter { !tok.stopTokenIDs.contains($0) }, skipSpecial: true), [], nil)
        }
    }
}
