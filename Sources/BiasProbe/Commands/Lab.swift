import ArgumentParser
import Foundation
import PCInference
import ProbeAnalysis

/// `lab`: the eviction lab's comparison over many independent examples (issue 27). `lab run`
/// appends one JSON line per example (every point of the grid in it) and resumes; `lab report`
/// reads those lines and writes the ranking, the band accounting and the kvpress-layout export.
///
/// Why not `eval` or `sweep`: both run one pipeline per (example, point), so neither can let one
/// context prefill serve every (policy, ratio) point, and eval takes one task at a time.
struct Lab: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Eviction lab comparison: RULER tasks x policies x kept ratios, with intervals, band accounting and a kvpress-layout export.",
        subcommands: [LabRun.self, LabReport.self])
}

struct LabRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run N examples per task through off and every (policy, ratio) point; one JSON line per example, appended (resumes).",
        discussion: """
        kvpress setting (default): one causal context of --length tokens inside the trained context, \
        prefilled once; each point compresses it without the question, then reads the question and \
        answers (one prefill serves every point). parallelcomp setting: each point evicts in every \
        chunk pass of ParallelComp (question appended); the chunk passes run once for every point, \
        each point then combining its own kept chunks and answering; --oracle-chunk keeps the \
        evidence chunk so eviction is measured apart from chunk selection.
        Example i of a task has seed first-seed + i and RULER's depth grid visited in stride 17 \
        (any 40 consecutive examples cover its 40 depths). Rows already in --out are skipped.
        """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Tasks, comma separated: RULER's niah_single_1/2/3, niah_multikey_1/2/3, niah_multivalue, niah_multiquery, ruler_vt, ruler_cwe, ruler_fwe (our own tasks work too).")
    var tasks = "niah_single_2,niah_multikey_1,niah_multivalue,ruler_vt,ruler_cwe"
    @Option(help: ArgumentHelp("Policies, comma separated (off always runs): streaming, h2o, tova, snapkv, snapkv-kvpress, pc-snapkv, pyramidkv, knorm, random, expected-attention (default: \(LabPolicyList.defaultText); expected-attention is left out on QK-norm models such as Gemma 3).", valueName: "list"))
    var policies: String?
    @Option(help: "Kept ratios, comma separated (kvpress's 1 - compression_ratio).") var ratios = "0.25,0.5,0.75,0.875"
    @Option(help: "kvpress or parallelcomp.") var setting: EvictionLabSettings.Setting = .kvpress
    @Option(help: "Prompt length in tokens (answer budget included), as RULER's max_seq_length.", transform: ContextLength.argument)
    var length = ContextLength(argument: "4096")!
    @Option(help: "Examples per task.") var examples = 50
    @Option(help: "Seed of example 0 (example i has first-seed + i).") var firstSeed = 0
    @Option(help: "Tokens generated per point (default: RULER's tokens_to_generate for the task).") var maxTokens: Int?
    @Flag(help: "parallelcomp setting: always keep the chunk holding the evidence.") var oracleChunk = false
    @Option(help: "parallelcomp setting: tokens per chunk (default: the pipeline's).") var chunkTokens: Int?
    @Option(help: "parallelcomp setting: chunks kept (default 1, as eval).") var keepChunks = 1
    @Option(name: [.short, .long], help: ArgumentHelp("JSONL of example rows (appended; rows already there are skipped).", valueName: "file"))
    var out = "lab.jsonl"
    @Option(help: ArgumentHelp("Run only examples i with i % N == I - 1, into OUT.part-I-of-N.jsonl (default: from Slurm's array variables).", valueName: "I/N"))
    var shard: Shard?
    @Flag(help: "Start --out over instead of resuming it.") var restart = false
    @Flag(help: "Hide progress.") var quiet = false

    /// The grid's points; `model`: fit the policy list to it (nil: check the names only).
    func points(model: ModelConfig? = nil) throws -> [LabRunner.Point] {
        let list = try LabPolicyList(policies)
        let kinds = try model.map { try list.fitted(to: $0) } ?? list.kinds
        let rs = try ratios.split(separator: ",").map { v -> Double in
            guard let r = Double(v), r > 0, r <= 1 else { throw ValidationError("--ratios: '\(v)' is not in (0, 1]") }
            return r
        }
        return [.off(setting, oracleChunk: oracleChunk)] + kinds.flatMap { k in rs.map { r in
            LabRunner.Point(name: "\(k.rawValue)@\(r)", lab: EvictionLabSettings(kind: k, ratio: r, setting: setting, oracleChunk: oracleChunk))
        } }
    }

    func run() throws {
        let taskList = try tasks.split(separator: ",").map { n -> RetrievalTask in
            guard let t = RetrievalTask(rawValue: String(n)), t != .ppl else { throw ValidationError("--tasks: '\(n)' is not a retrieval task") }
            return t
        }
        guard examples >= 1 else { throw ValidationError("--examples must be at least 1") }
        guard firstSeed >= 0 else { throw ValidationError("--first-seed must be at least 0") }
        if let m = maxTokens, m < 1 { throw ValidationError("--max-tokens must be at least 1") }
        if oracleChunk && setting == .kvpress { throw ValidationError("--oracle-chunk is for --setting parallelcomp (the kvpress setting has one chunk)") }
        _ = try points()
        let shard = try self.shard ?? Shard.fromEnvironment()
        let path = shard.map { $0.partPath(for: out) } ?? out
        try OutputFile.check(path, option: "--out", inputs: [("--model", modelOptions.modelPath)], createsFolder: true)
        let (model, tok, _) = try modelOptions.load()
        let pts = try points(model: model.config)
        if setting == .kvpress && length.tokens > model.config.contextLength {
            throw ValidationError("--length \(length.tokens) is past the model's trained context \(model.config.contextLength): the kvpress setting runs inside it")
        }
        let done = try rowsWritten(path, points: pts)
        var todo: [(RetrievalTask, Int)] = []
        for i in 0..<examples where shard.map({ i % $0.count == $0.index - 1 }) ?? true {
            for t in taskList where !done.contains("\(t.rawValue)#\(i)") { todo.append((t, i)) }
        }
        let essays = taskList.contains(where: \.needsEssays) ? try DefaultCorpus.essays() : ""
        let builder = RetrievalTaskBuilder(tokenizer: tok)
        if !quiet {
            let perExample = LabPlan.probe(model: model, tokenizer: tok, tokens: length.tokens, points: pts.count, setting: setting,
                                           chunkTokens: chunkTokens, keepChunks: keepChunks, oracleChunk: oracleChunk, answerTokens: taskList.map { maxTokens ?? $0.answerTokens }.max() ?? 32)
            Log.info("plan: \(todo.count) examples to run (\(taskList.count) tasks x \(examples) examples\(shard.map { ", shard \($0)" } ?? ""); \(done.count) already in \(path)) x \(pts.count) points (off + \(pts.count - 1)) in the \(setting.rawValue) setting at \(length.text); "
                     + "about \(Plan.duration(perExample * Double(todo.count))) at most (\(String(format: "%.1f", perExample)) s per example from a quick probe of prefill and decode speed; answers that stop early take less)")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        let t0 = Date()
        for (n, (task, i)) in todo.enumerated() {
            if Signals.isInterrupted { throw InterruptedError() }
            let row = try runExample(task, i, model: model, tok: tok, builder: builder, essays: essays, points: pts)
            handle.write(Data((try JSONCoding.line(row) + "\n").utf8))
            if !quiet {
                let results = row.points
                let off = results.first.map { String(format: "off %.2f", $0.score) } ?? ""
                let mean = results.dropFirst().map(\.score).reduce(0, +) / Double(max(1, results.count - 1))
                let left = Date().timeIntervalSince(t0) / Double(n + 1) * Double(todo.count - n - 1)
                Log.info(String(format: "[%d/%d] %@ #%d depth %.2f: %@, points mean %.2f, %.1f s (about %@ left)", n + 1, todo.count, task.rawValue, i, row.depth,
                                off, mean, row.seconds, Plan.duration(left)))
            }
        }
        if !quiet { Log.info("\(todo.count) examples written to \(path); report: biasprobe lab report \(path)") }
    }

    /// The rows already in the output (a line cut short by a kill is dropped and rewritten), as
    /// "task#example"; a new output is created empty.
    func rowsWritten(_ path: String, points pts: [LabRunner.Point]) throws -> Set<String> {
        var done = Set<String>()
        guard FileManager.default.fileExists(atPath: path) && !restart else {
            let folder = (path as NSString).deletingLastPathComponent
            try FileManager.default.createDirectory(atPath: folder.isEmpty ? "." : folder, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw CLIError("--out \(path): cannot create the file") }
            return done
        }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var kept: [String] = []
        for line in text.split(separator: "\n") {
            guard let r = try? JSONCoding.decode(LabExampleRow.self, from: line) else { continue }
            guard r.points.map(\.pointName) == pts.map(\.name) else {
                throw CLIError("\(path) holds rows of another grid (policies or ratios differ): pass --restart or another --out")
            }
            guard r.setting == setting.rawValue, r.tokens == length.tokens else {
                throw CLIError("\(path) holds rows of another setting or length: pass --restart or another --out")
            }
            done.insert("\(r.task)#\(r.example)"); kept.append(String(line))
        }
        try (kept.map { $0 + "\n" }.joined()).write(toFile: path, atomically: true, encoding: .utf8)
        return done
    }

    /// Example i of a task at every point of the grid, in the chosen setting.
    func runExample(_ task: RetrievalTask, _ i: Int, model: LlamaModel, tok: Tokenizer, builder: RetrievalTaskBuilder, essays: String,
                    points pts: [LabRunner.Point]) throws -> LabExampleRow {
        let seed = UInt64(firstSeed + i), depth = task.ruler.map { $0.hasNeedle ? RulerTask.depth(example: i) : 0 } ?? RulerTask.depth(example: i)
        let ex = task.example(builder, essays: essays, tokens: length.tokens, depth: depth, seed: seed)
        var config = ParallelCompConfig()
        config.maxNewTokens = maxTokens ?? task.answerTokens
        config.keepChunks = keepChunks
        if let c = chunkTokens { config.chunkTokens = c }
        let format = PromptFormat.forExample(tok, layout: .official, template: ex.template, instruction: ex.instruction, answerPrefix: ex.answerPrefix)
        let t1 = Date()
        let results: [LabPoint]
        switch setting {
        case .kvpress:
            config.causal = true
            let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: format)
            pc.memo = nil
            results = try LabRunner.kvpress(ex, pipeline: pc, points: pts, cancelled: { Signals.isInterrupted })
        case .parallelComp:
            results = try LabRunner.parallelComp(ex, model: model, tokenizer: tok, config: config, format: format, points: pts, memo: nil,
                                                 cancelled: { Signals.isInterrupted })
        }
        return LabExampleRow(setting: setting.rawValue, task: task.rawValue, example: i, seed: seed, depth: depth, tokens: length.tokens,
                             references: ex.references, points: results, seconds: Date().timeIntervalSince(t1))
    }
}

/// The lab's plan line: a quick probe of this machine's prefill and decode speed, scaled to an
/// example's work (its prefills by FLOP count, its decode steps by count).
enum LabPlan {
    static func probe(model: LlamaModel, tokenizer tok: Tokenizer, tokens: Int, points: Int, setting: EvictionLabSettings.Setting,
                      chunkTokens: Int?, keepChunks: Int = 1, oracleChunk: Bool = false, answerTokens: Int) -> Double {
        let c = model.config, ids = benchTokens(tok, count: 256)
        let g = Generator(model: model)
        let t0 = Date()
        _ = try? g.generate(prompt: ids, maxTokens: 1, sampling: SamplingSettings(), stopTokens: []) { _ in true }
        let prefill = Date().timeIntervalSince(t0)
        let question = 64
        // The pipeline's default chunk: the trained context less the answer budget and twice the
        // question (`defaultChunkTokens`).
        let chunk = chunkTokens ?? min(tokens, c.contextLength - answerTokens - 2 * (question + 1))
        // The points decode side by side: each answer step is one pass of every point's row, over
        // the context the points keep (the kvpress context, or the kept chunks).
        let kept = setting == .kvpress ? tokens : min(tokens, keepChunks * chunk)
        let step = sideBySideStep(model: model, ids: ids, rows: points, keys: min(kept, c.contextLength))
        func pass(_ n: Int) -> Double { prefill * FlopCount.prefill(c, tokens: n) / FlopCount.prefill(c, tokens: 256) }
        switch setting {
        case .kvpress:
            return pass(tokens) + Double(points) * pass(question) + Double(answerTokens) * step * 1.5
        case .parallelComp:
            let chunks = max(1, (tokens + chunk - 1) / chunk)
            // The chunk passes run once for every point; an oracle chunk that fills the keep budget
            // leaves the others unprefilled.
            // A point's question prefill: its rows through the weights, attending to the kept chunks.
            let attend = 4 * Double(c.headDim * c.headCount * c.layerCount * question * keepChunks * chunk)
            let questionPass = prefill * (FlopCount.prefill(c, tokens: question) + attend) / FlopCount.prefill(c, tokens: 256)
            let passes = oracleChunk && keepChunks <= 1 ? 1 : chunks
            return Double(passes) * pass(chunk + question) + Double(points) * questionPass + Double(answerTokens) * step * 1.5
        }
    }

    /// One decode step of `rows` sequences side by side (`decodeRows` over forks of one cache of
    /// `keys` zero keys, as the points' context: attention over it is most of a long-context step).
    static func sideBySideStep(model: LlamaModel, ids: [Int], rows: Int, keys: Int) -> Double {
        let c = model.config, n = max(1, keys)
        let block = KVBlock(layers: c.layerCount, kvHeads: c.kvHeadCount, headDim: c.headDim, capacity: n)
        let zeros = [Float](repeating: 0, count: n * c.kvDim)
        zeros.withUnsafeBufferPointer { z in
            for l in 0..<c.layerCount { block.write(layer: l, at: 0, k: z.baseAddress!, v: z.baseAddress!, rows: n) }
        }
        let base = model.makeCache()
        base.appendWhole(block, count: n)
        let forks = (0..<max(1, rows)).map { _ in base.fork() }, toks = Array(repeating: ids[0], count: forks.count)
        _ = try? model.decodeRows(tokens: toks, positions: Array(repeating: n, count: forks.count), caches: forks)   // warm
        let t = Date(), steps = 4
        for s in 1...steps { _ = try? model.decodeRows(tokens: toks, positions: Array(repeating: n + s, count: forks.count), caches: forks) }
        return Date().timeIntervalSince(t) / Double(steps)
    }
}


struct LabReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "The lab's ranking with intervals, band accounting and limits from its JSONL files (parts of a sharded run included).")

    @Argument(help: "JSONL files written by 'lab run' (shard parts too).") var files: [String]
    @Option(help: ArgumentHelp("Also write the results in kvpress's leaderboard layout under DIR.", valueName: "dir")) var export: String?
    @Option(help: "Model name for the export's folder names (default: the default model's file name).") var model: String?
    @Flag(help: "JSON on stdout instead of markdown.") var json = false

    func run() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one JSONL file of 'lab run'") }
        var rows: [LabExampleRow] = []
        for f in files {
            guard FileManager.default.fileExists(atPath: f) else { throw ValidationError("\(f): no such file") }
            let text = try String(contentsOfFile: f, encoding: .utf8)
            for (i, line) in text.split(separator: "\n").enumerated() where !line.isEmpty {
                do { rows.append(try JSONCoding.decode(LabExampleRow.self, from: line)) }
                catch { throw CLIError("\(f) line \(i + 1) is not a lab example row: \(error)") }
            }
        }
        guard !rows.isEmpty else { throw CLIError("\(files.joined(separator: ", ")) hold no example rows") }
        let analyses = LabAnalysis.of(rows)
        if json {
            print(try JSONCoding.line(analyses))
        } else {
            print(analyses.map { $0.markdown() }.joined(separator: "\n"))
        }
        if let export {
            let folders = try KVPressExport.write(rows, analyses: analyses, model: model ?? DefaultCorpus.defaultModelPath, to: export)
            Log.info("kvpress layout: \(folders.count) folders under \(export)")
        }
    }
}
