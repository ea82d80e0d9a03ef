import ArgumentParser
import Foundation
import PCInference
import ProbeAnalysis

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Grid search over eviction settings: retrieval accuracy, answer NLL, attention on the needle, time and memory per point.",
        discussion: """
        Each --vary adds an axis; the grid is every combination (the first axis varies slowest). \
        Parameters: keep-chunks, chunk-tokens, capacity (a number or 'off'), window, kernel, \
        lambda, calibration (rule lists separated by ';', e.g. 'none;sink:22-29;paper'), \
        band-width, calibration-rows, and the eviction lab's policy (a name; tova+decode or \
        h2o+decode with --decode-eviction; 'off' for none; 'calibration' for none plus the paper's \
        calibration), budget and ratio (give the base policy's budget or ratio with --policy NAME \
        --budget N). Points whose settings are identical (policy=off at every budget) run once \
        and are copied. Settings not varied come from the usual pipeline options \
        (defaults as in eval: 1 kept chunk, 12 answer tokens).

        Every point runs the same examples (tasks x seeds x depths) and records, per example: \
        correct or not, the answer's teacher-forced NLL, the question's attention mass on the \
        needle's tokens, whether the needle's chunk was kept, and the time; per point: the peak \
        resident memory. Results go to one HDF5 file, rewritten atomically after every point; \
        running the same command again resumes (finished points are skipped). Chunk scores are \
        shared between points: a chunk whose known score cannot be kept is not prefilled again \
        (--no-reuse-scores to time every point from scratch).

        With --shard I/N (or inside a Slurm job array) only part I of N of the work list runs, \
        into OUT.part-I-of-N.h5; 'biasprobe sweep merge OUT' joins the parts into the file an \
        unsharded run writes (see 'biasprobe slurm sweep').

        Example: biasprobe sweep --length 8k --chunk-tokens 1024 --vary keep-chunks=1,2 \
        --vary capacity=off,256 --vary 'calibration=none;paper' -o sweep.h5
        """,
        subcommands: [SweepMergeCommand.self])

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var pipeline: PipelineOptions
    @Option(name: .customLong("vary"), help: ArgumentHelp("An axis: NAME=V1,V2,... (repeatable).", valueName: "name=values"))
    var vary: [String] = []
    @Option(help: "Tasks, comma separated: passkey, niah, mk-niah, mv-niah, kv, vt, ppl (see eval --help).", transform: { try ChoiceList.parse($0, noun: "task") })
    var tasks = ChoiceList<RetrievalTask>([.passkey, .niah])
    @Option(help: "Context length of every example: 4096, 8k, 32k... (default 8k).", transform: ContextLength.argument) var length = ContextLength(argument: "8k")!
    @Option(help: ArgumentHelp("Needle depths, comma separated (0 = start, 1 = end).", valueName: "list")) var depths = DoubleList(argument: "0,0.25,0.5,0.75,1")!
    @Option(help: "Seeds per (task, depth).") var seeds = 1
    @Option(name: [.short, .long], help: ArgumentHelp("The sweep's HDF5 file (resumed when it exists).", valueName: "file")) var out = "sweep.h5"
    @Flag(help: "Start over even if the output file holds finished points.") var restart = false
    @Flag(help: "Hide progress.") var quiet = false
    @Flag(help: "JSON lines on stdout: one per finished point, then a summary.") var json = false
    @Option(help: ArgumentHelp("Run only part I of N of the work list (grid points x examples, balanced by estimated cost), into OUT.part-I-of-N.h5; merge the parts with 'biasprobe sweep merge'. Default: from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT when set.", valueName: "I/N"))
    var shard: Shard?
    @Flag(help: .hidden) var plan = false   // print the work list and its shards as JSON, run nothing (tests)

    func run() throws {
        let axes = try checkArguments()
        let setup = try SweepSetup(self, axes: axes)
        let memo: ChunkScoreMemo? = pipeline.noReuseScores ? nil : ChunkScoreMemo()
        let measure = { (pi: Int, ei: Int) in try setup.measure(pi, ei, memo: memo) }
        if let shard = try shard ?? Shard.fromEnvironment() {
            let job = try setup.shardJob(self, shard: shard)
            if plan { return try job.printPlan() }
            return try job.run(modelSHA256: try sha256(of: setup.modelPath), measure: measure)
        }
        if plan { return try setup.shardJob(self, shard: Shard(index: 1, count: 1)).printPlan() }
        var results = try resumedResults(setup)
        let copied = try runPoints(setup, into: &results, measure: measure)
        try report(setup, results, copied: copied, scoresReused: memo != nil)
    }

    /// The options' own checks, before the model loads: returns the axes.
    func checkArguments() throws -> [SweepAxis] {
        let axes = SweepAxis.merged(try vary.map { a in try usage { try SweepAxis.parse(a) } })
        guard !axes.isEmpty else { throw ValidationError("give at least one axis with --vary NAME=V1,V2,...") }
        guard seeds >= 1 else { throw ValidationError("--seeds must be at least 1") }
        for d in depths.values where !(0...1).contains(d) { throw ValidationError("--depths: depth \(d) is outside 0...1") }
        try WorkList.check(counts: [("--tasks", tasks.values.count), ("--seeds", seeds), ("--depths", depths.values.count),
                                    ("--vary", axes.reduce(1) { $0.multipliedReportingOverflow(by: max(1, $1.values.count)).partialValue })],
                           firstSeed: 0, seeds: seeds)
        if !plan {
            try OutputFile.check((try shard ?? Shard.fromEnvironment()).map { $0.partPath(for: out) } ?? out, option: "--out",
                                 inputs: [("--config", pipeline.config), ("--model", modelOptions.modelPath)])
        }
        return axes
    }

    /// The results to add to: empty, or the file's finished points when the same sweep resumes.
    func resumedResults(_ setup: SweepSetup) throws -> SweepResults {
        let axes = setup.axes, points = setup.points
        var results = SweepResults(settings: try setup.settings(axes), model: setup.modelPath, axes: axes, examples: setup.examples)
        results.modelSHA256 = try sha256(of: setup.modelPath)
        guard FileManager.default.fileExists(atPath: out) && !restart else { return results }
        let old = try SweepResults.read(path: out)
        // A format-1 file predates the official defaults: its points ran another variant
        // (no question BOS, mean NLL, ...) that its stored settings cannot describe.
        guard old.formatVersion >= 2 else {
            throw CLIError("\(out) was written by an earlier biasprobe, before the official ParallelComp defaults (sweep format 1): its points cannot be resumed; pass --restart to overwrite it, or another --out")
        }
        // Same examples, base settings and parameter names: the grid may have gained values.
        let was = try JSONCoding.decode(SweepSettings.self, from: old.settings)
        guard was.tasks == tasks.values, was.length == length.tokens, was.examples == setup.examples, was.base == setup.base,
              was.axes.map(\.parameter) == axes.map(\.parameter), was.model == nil || was.model == setup.modelPath else {
            throw CLIError("\(out) holds a sweep with other settings (examples, base options or parameters): pass --restart to overwrite it, or another --out")
        }
        // Keep every value seen, so the stored settings describe all stored points.
        results.axes = SweepAxis.merged(was.axes + axes)
        results.settings = try setup.settings(results.axes)
        results.points = old.points
        let labels = Set(points.map { $0.label(axes: axes) })
        let inGrid = old.points.filter { labels.contains($0.label) }.count
        if !quiet && inGrid > 0 { Log.info("resuming: \(inGrid) of \(points.count) points already in \(out)") }
        return results
    }

    /// Runs every unfinished point, writing the file after each; returns the points copied from a
    /// twin with the same settings ("label = twin").
    func runPoints(_ setup: SweepSetup, into results: inout SweepResults,
                   measure: (Int, Int) throws -> SweepItemResult) throws -> [String] {
        let axes = setup.axes, points = setup.points, examples = setup.examples
        let folder = (out as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder.isEmpty ? "." : folder, withIntermediateDirectories: true)
        let finished = Set(results.points.map(\.label))
        let todo = points.indices.filter { !finished.contains(points[$0].label(axes: axes)) }
        let bar = ProgressBar("sweep", total: todo.count * examples.count, quiet: quiet)
        var done = 0
        var copied: [String] = []
        for pi in todo {
            let point = points[pi], label = point.label(axes: axes)
            // A point whose settings equal a finished one's (a value the others ignore, such as a
            // budget with policy=off) would measure the same: its results are copied, not re-run.
            if let twin = points.indices.first(where: { $0 != pi && setup.configs[$0] == setup.configs[pi] }).map({ points[$0].label(axes: axes) }),
               var r = results.points.first(where: { $0.label == twin }) {
                r.label = label
                r.values = axes.map { point.values[$0.parameter]!.text }
                results.points.append(r)
                try results.write(path: out)
                copied.append("\(label) = \(twin)")
                done += examples.count
                bar.update(done, note: "\(label) (as \(twin))")
                if json { try JSONOut.emit(SweepPointReport(results, r)) }
                continue
            }
            ProcessStats.resetPeak()
            var r = SweepPointResult(label: label, values: axes.map { point.values[$0.parameter]!.text }, correct: [], answerNLL: [],
                                     needleMass: [], needleKept: [], seconds: [], peakRSSBytes: 0, chunksPrefilled: 0, chunksReused: 0)
            for ei in examples.indices {
                let o: SweepItemResult
                do { o = try measure(pi, ei) }
                catch is CancellationError { throw SweepInterrupted(saved: results.points.count, total: points.count, path: out) }
                r.add(o)
                done += 1
                bar.update(done, note: "\(label) [\(examples[ei].task.rawValue) d=\(examples[ei].depth) s=\(examples[ei].seed)]")
            }
            r.peakRSSBytes = Int64(ProcessStats.peakRSSSinceReset)
            results.points.append(r)
            try results.write(path: out)
            if json { try JSONOut.emit(SweepPointReport(results, r)) }
        }
        bar.finish()
        return copied
    }

    /// The table (or the JSON summary) of every point in grid order, and the recommended one.
    func report(_ setup: SweepSetup, _ results: SweepResults, copied: [String], scoresReused: Bool) throws {
        let order = Dictionary(uniqueKeysWithValues: setup.points.enumerated().map { ($1.label(axes: setup.axes), $0) })
        let ordered = results.points.sorted { (order[$0.label] ?? .max) < (order[$1.label] ?? .max) }
        let best = Self.recommended(results, ordered)
        if json {
            try JSONOut.emit(SweepReport(points: ordered.count, scoresReused: scoresReused, file: out, recommended: best?.label, rule: Self.rule, config: setup.base))
            return
        }
        print(Self.table(results, ordered))
        if !copied.isEmpty {
            print("Points with the same settings as another ran once; copied: \(copied.joined(separator: "; ")).\n")
        }
        if scoresReused {
            print("Times count only the work each point did: chunk scores are shared between points (--no-reuse-scores times every point from scratch).\n")
        }
        if let best { print("recommended: \(best.label)  (\(Self.rule))") }
        print("results: \(out)")
    }

    static let rule = "highest mean accuracy over tasks, then lowest answer NLL, then highest needle mass"

    /// The point the rule picks.
    static func recommended(_ res: SweepResults, _ pts: [SweepPointResult]) -> SweepPointResult? {
        func key(_ p: SweepPointResult) -> (Double, Double, Double) {
            let acc = res.metric(.accuracy, p), nll = res.metric(.answerNLL, p), mass = res.metric(.needleMass, p)
            return (acc.isFinite ? -acc : 0, nll.isFinite ? nll : .infinity, mass.isFinite ? -mass : 0)
        }
        return pts.min { key($0) < key($1) }
    }


    /// A Markdown table of every point.
    static func table(_ res: SweepResults, _ pts: [SweepPointResult]) -> String {
        // One column per task of the sweep: its accuracy, or for ppl its mean answer NLL.
        // (passkey and niah always, as before the harder tasks.)
        let tasks = RetrievalTask.allCases.filter { t in t == .passkey || t == .niah || res.examples.contains { $0.task == t } }
        let columns = tasks.map(SweepMetric.score(of:))
        var s = "| " + res.axes.map(\.parameter.rawValue).joined(separator: " | ") + " | " + tasks.map { $0 == .ppl ? "ppl NLL" : $0.rawValue }.joined(separator: " | ")
            + " | answer NLL | needle mass | needle kept | stored KV (MB) | time (s) | peak RSS (GB) |\n"
        s += "|" + String(repeating: "---|", count: res.axes.count + tasks.count + 6) + "\n"
        func f(_ x: Double, _ fmt: String) -> String { x.isFinite ? String(format: fmt, x) : "-" }
        for p in pts {
            s += "| " + p.values.joined(separator: " | ")
            for c in columns { s += " | " + f(res.metric(c, p), c == .pplNLL ? "%.3f" : "%.2f") }
            s += " | " + f(res.metric(.answerNLL, p), "%.3f") + " | " + f(res.metric(.needleMass, p), "%.4f")
            s += " | " + f(res.metric(.needleKept, p), "%.2f") + " | " + f(res.metric(.kvBytes, p) / 1e6, "%.2f")
            s += " | " + f(res.metric(.seconds, p), "%.1f") + " | " + f(res.metric(.peakRSSGB, p), "%.2f") + " |\n"
        }
        return s
    }
}

struct SweepInterrupted: Error, CustomStringConvertible {
    let saved: Int, total: Int, path: String
    var unit = "points"
    var description: String { "interrupted; \(saved) of \(total) \(unit) are saved in \(path): run the same command to resume" }
}

/// The line `sweep --json` prints after each point: its label, each axis's value under the
/// axis's name, every metric (null where undefined) and its run figures.
struct SweepPointReport: Encodable {
    let point: String
    let axes: [(String, String)]
    let metrics: [(SweepMetric, Double?)]
    let peakRSSBytes: Int64, chunksPrefilled: Int64, chunksReused: Int64

    init(_ res: SweepResults, _ p: SweepPointResult) {
        point = p.label
        axes = zip(res.axes, p.values).map { ($0.parameter.rawValue, $1) }
        metrics = SweepMetric.stored.map { m in let x = res.metric(m, p); return (m, x.isFinite ? x : nil) }
        peakRSSBytes = p.peakRSSBytes; chunksPrefilled = p.chunksPrefilled; chunksReused = p.chunksReused
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(point, forKey: Key("point"))
        for (name, value) in axes { try c.encode(value, forKey: Key(name)) }
        for (m, value) in metrics { if let value { try c.encode(value, forKey: Key(m.name)) } else { try c.encodeNil(forKey: Key(m.name)) } }
        try c.encode(peakRSSBytes, forKey: Key("peak_rss_bytes"))
        try c.encode(chunksPrefilled, forKey: Key("chunks_prefilled"))
        try c.encode(chunksReused, forKey: Key("chunks_reused"))
    }
}

/// The last line of `sweep --json`.
struct SweepReport: Encodable {
    let points: Int, scoresReused: Bool, file: String, recommended: String?, rule: String, config: ParallelCompConfig
    enum CodingKeys: String, CodingKey { case points, scoresReused = "scores_reused", file, recommended, rule, config }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(points, forKey: .points); try c.encode(scoresReused, forKey: .scoresReused); try c.encode(file, forKey: .file)
        if let recommended { try c.encode(recommended, forKey: .recommended) } else { try c.encodeNil(forKey: .recommended) }
        try c.encode(rule, forKey: .rule); try c.encode(config, forKey: .config)
    }
}
