import ArgumentParser
import Foundation
import PCInference
import ProbeAnalysis

struct Claims: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Test the paper's attention-bias claims over many examples, with bootstrap intervals.",
        subcommands: [ClaimsRun.self, ClaimsMerge.self, ClaimsCompare.self, ClaimsReanalyse.self], defaultSubcommand: ClaimsRun.self)
}

struct ClaimsRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Test the paper's attention-bias claims (T1-T20 as far as they run here) over many examples.",
        discussion: """
        Every example is a document cut from the default essays at a seeded offset (2-4 chunks), \
        a question, a pass-key document with its own haystack and a continuation. Each claim's \
        statistic is computed per example; docs/claims-protocol.md fixes the rest: a 95 % \
        Student-t interval of the mean (BCa beside it), one-sided tests with a minimum effect per \
        claim, equivalence tests for "no change" claims, Holm's correction (raw and adjusted \
        verdicts), manipulation checks, and the protocol's sha256 in every output. Writes claims.md, claims.json, examples.jsonl and figures to --out-dir \
        (default outputs/claims/MODEL-vPROTOCOL-LAYOUT, -window or -quick added for those sizes; a folder holding a finished run is refused). With --shard I/N (or inside a Slurm job array) only part \
        I of N of the examples runs, into examples.part-I-of-N.jsonl; 'biasprobe claims merge \
        DIR/examples.jsonl' then writes what an unsharded run writes.
        """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Examples (default: the size's n, 40 standard, 20 window, 2 quick).") var examples: Int?
    @Flag(help: "CI-sized: 2 small examples (128-token chunks); every claim still measured. Same as --size quick.") var quick = false
    @Option(help: ArgumentHelp("Run size (docs/claims-protocol.md): standard (256-token chunks, n 40, both models on equal terms), window (768-token chunks, n 20: chunks exceed Gemma 3's 512-token sliding window) or quick.", valueName: "standard|window|quick"))
    var size: ClaimSize = .standard
    @Option(help: "Seed of the examples and the bootstrap.") var seed: UInt64 = 2025
    @Option(help: "Folder for claims.md, claims.json, examples.jsonl and figures (default outputs/claims/MODEL-vPROTOCOL-LAYOUT, with -window or -quick for those sizes). A folder holding a finished run is refused, never written over.") var outDir: String?
    @Flag(help: "Print the folder this run would write (--out-dir or the default) and exit.") var showFolder = false
    @Flag(help: "Print claims.json's claims on stdout too.") var json = false
    @Flag(help: "No progress lines.") var quiet = false
    @Option(help: ArgumentHelp("Run only part I of N of the examples (balanced by estimated cost); merge with 'biasprobe claims merge'. Default: from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT when set.", valueName: "I/N"))
    var shard: Shard?
    @Flag(help: "With --shard: start the part over instead of resuming it.") var restart = false
    @Option(help: ArgumentHelp("Run the examples in N processes on this machine (parts of N shards, one thread each unless --threads says otherwise), then merge them: on 2 cores about a quarter faster than one 2-thread process. The parts resume after an interruption.", valueName: "N"))
    var processes: Int = 1
    @Option(help: ArgumentHelp("Chunk and question layout: official (raw text, no chat markup, as the official code feeds LLaMA models) or chat (the model's chat template copied into every chunk). Run both to see the template's effect.", valueName: "official|chat"))
    var promptLayout: ClaimPromptLayout = .official
    @Flag(help: "Run every chunk pass of an example, even one an earlier run of that example already did (by default such a pass is taken from the example's memo; the numbers are the same).")
    var noReuseScores = false

    func validate() throws {
        if let e = examples, e < 1 { throw ValidationError("--examples must be at least 1") }
        if processes < 1 || processes > 64 { throw ValidationError("--processes must be between 1 and 64") }
        if processes > 1 && shard != nil { throw ValidationError("--processes and --shard do not combine: --processes runs every shard itself") }
        if quick && size != .standard && size != .quick { throw ValidationError("--quick and --size \(size.rawValue) do not combine: --quick is --size quick") }
    }

    /// outputs/claims/<short name> for a model setup.sh fetches (smollm2, gemma3), else
    /// outputs/claims/<model file name without extension>, lowercased: one folder per model.
    static func defaultFolder(modelPath: String) -> String {
        let file = (modelPath as NSString).lastPathComponent
        if let short = KnownModels.shortName(ofFile: file) { return "outputs/claims/" + short }
        return "outputs/claims/" + (file as NSString).deletingPathExtension.lowercased()
    }

    /// The size this run has: `--quick` is `--size quick`.
    var runSize: ClaimSize { quick ? .quick : size }

    /// Every protocol version, layout and size gets a folder of its own (ClaimSize.folder), so none
    /// ever replaces another's files.
    var dir: String { outDir ?? runSize.folder(model: Self.defaultFolder(modelPath: modelOptions.modelPath), layout: promptLayout) }

    func run() throws {
        let t0 = Date()
        if showFolder { print(dir); return }
        // A finished run is a user's result: running again would recompute it all and replace it.
        let finished = dir + "/examples.jsonl"
        if FileManager.default.fileExists(atPath: finished) {
            throw CLIError("claims run: \(finished) already holds a finished run; choose another --out-dir (or move that folder away) to run again")
        }
        if processes > 1 && self.shard == nil && ProcessInfo.processInfo.environment["SLURM_ARRAY_TASK_ID"] == nil {
            try runInProcesses(t0: t0)
            return
        }
        let shard = try self.shard ?? Shard.fromEnvironment()
        var settings = runSize.preset
        if let examples { settings.examples = examples }
        settings.seed = seed
        settings.model = modelOptions.modelPath
        settings.promptLayout = promptLayout
        let (model, tok, _) = try modelOptions.load()
        // Without a template the chat layout would be the official one with the question
        // tokenised in pieces: a column labelled "chat" that measures no template.
        if promptLayout == .chat { try ChatLayoutCheck.require(tok, model: modelOptions.modelPath) }
        // Hundreds of short passes: expanding the weights once instead of in every pass saves
        // about a fifth of the run and changes no number (docs/claims.md, "Timing").
        model.expandWeights()
        let doc = tok.encode(try DefaultCorpus.essays(), parseSpecial: false, addBOS: false)
        guard doc.count > settings.tokensNeeded + 64 else { throw CLIError("the essays hold \(doc.count) tokens; these settings need \(settings.tokensNeeded)") }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let items = settings.workList(essayTokens: doc.count)
        var session = ClaimSession(model: model, tok: tok, settings: settings, doc: doc, claims: ClaimCatalog.all)
        session.reusePasses = !noReuseScores
        session.logTiming = ProcessInfo.processInfo.environment["BIASPROBE_CLAIMS_TIMING"] != nil
        let windows = (0..<model.config.layerCount).compactMap { model.config.attentionWindow(layer: $0) }
        let header = ClaimsHeader(settings: settings, modelName: model.config.name, layers: model.config.layerCount, heads: model.config.headCount,
                                  slidingWindow: windows.min(), slidingLayers: windows.isEmpty ? nil : windows.count)
        func say(_ s: String) { if !quiet { Log.info(s) } }
        say("claims: \(items.count) examples, \(settings.size?.rawValue ?? "custom") size (\(settings.width)-token chunks), \(promptLayout.rawValue) layout, \(ClaimProtocol.line)")
        func runOne(_ i: Int, _ n: Int, of total: Int) throws -> ExampleRow {
            if Signals.isInterrupted { throw InterruptedError() }
            let row = try session.row(items[i])
            say(String(format: "claims: example %d/%d (%d chunks) in %.0f s", n, total, items[i].chunks, row.seconds))
            return row
        }
        let out = dir + "/examples.jsonl"

        if let shard {
            let settingsText = try header.text()
            let costs = items.map { settings.cost($0) }
            let mine = WorkPartition.items(costs: costs, shards: shard.count, index: shard.index - 1)
            let path = shard.partPath(for: out)
            let h = PartHeader(shard: shard.description, settings: settingsText, modelSHA256: try sha256(of: modelOptions.modelPath),
                                    workList: SHA256Hasher.hex(settingsText + "\n" + costs.map { String($0) }.joined(separator: ",")),
                                    totalItems: items.count, items: mine, host: hostName)
            let (part, resumed) = try EvalPart<ExampleRow>.resuming(path: path, header: h, rowName: "claims example", restart: restart, what: "claims run")
            if resumed { say("resuming shard \(shard): \(mine.count - part.missing.count) of \(mine.count) examples already in \(path)") }
            try part.write(path: path)
            let todo = part.missing
            for (n, i) in todo.enumerated() {
                try EvalPart.append(path: path, item: i, peakRSS: Int64(ProcessStats.peakRSS), row: try runOne(i, n + 1, of: todo.count))
            }
            print("shard \(shard): \(mine.count) of \(items.count) examples in \(path); merge the parts with: biasprobe claims merge \(out)")
            return
        }

        var rows: [ExampleRow] = []
        for i in items.indices { rows.append(try runOne(i, i + 1, of: items.count)) }
        try ClaimsOutput.finish(rows: rows, header: header, dir: dir, seconds: Date().timeIntervalSince(t0),
                                peakRSS: ProcessStats.peakRSS, json: json, quiet: quiet)
        // The default folders sit side by side under outputs/claims: refresh the model comparison
        // (not for a CI-sized quick run, whose two examples are no finding).
        if outDir == nil && runSize != .quick { try ClaimComparison.write(root: (dir as NSString).deletingLastPathComponent) }
    }
}

extension ClaimsRun {
    /// --processes N: run `claims run --shard i/N` as N child processes of this executable, wait
    /// for all, merge their parts into the files an unsharded run writes, and remove the parts.
    /// Each shard's rows are what that shard computes on its own (one thread each by default), so
    /// the table equals a sharded run's with the same thread count.
    func runInProcesses(t0: Date) throws {
        let n = processes
        let threadsEach = modelOptions.threads ?? max(1, ProcessInfo.processInfo.activeProcessorCount / n)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var common = ["claims", "run", "--model", modelOptions.modelPath, "--threads", String(threadsEach), "--seed", String(seed), "--out-dir", dir,
                      "--prompt-layout", promptLayout.rawValue]
        if let examples { common += ["--examples", String(examples)] }
        common += ["--size", runSize.rawValue]
        if quiet { common.append("--quiet") }
        if restart { common.append("--restart") }
        if noReuseScores { common.append("--no-reuse-scores") }
        if !quiet { Log.info("claims: \(n) processes x \(threadsEach) thread(s); parts in \(dir)") }
        let exe = URL(fileURLWithPath: CommandLineEntry.executablePath)
        var children: [Process] = []
        for i in 1...n {
            let p = Process()
            p.executableURL = exe
            p.arguments = common + ["--shard", "\(i)/\(n)"]
            p.standardOutput = FileHandle.nullDevice   // each child prints a one-line "shard i/n" note
            try p.run()
            children.append(p)
        }
        for p in children { p.waitUntilExit() }
        if Signals.isInterrupted { throw InterruptedError() }
        let failed = children.enumerated().filter { $0.element.terminationStatus != 0 }.map { "\($0.offset + 1)/\(n)" }
        guard failed.isEmpty else { throw CLIError("claims: shard(s) \(failed.joined(separator: ", ")) failed (see above); run the same command again to resume") }
        let out = dir + "/examples.jsonl"
        let parts = (1...n).map { Shard(index: $0, count: n).partPath(for: out) }
        try ClaimsMerge.mergeFiles(out: out, parts: parts, json: json, seconds: Date().timeIntervalSince(t0), quiet: quiet)
        for p in parts { try? FileManager.default.removeItem(atPath: p) }   // mergeFiles rewrote comparison.md
    }
}

/// What a claims part records about its run besides the shared part header fields.
struct ClaimsHeader: Codable, Equatable {
    var command = "claims"
    /// The protocol's hash: parts of runs under different protocols never merge.
    var protocolSHA256: String? = ClaimProtocol.sha256
    var settings: ClaimSettings
    var modelName: String
    var layers: Int, heads: Int
    /// The model's smallest sliding window and the layers using one (nil for a model without;
    /// absent from headers written before they were recorded).
    var slidingWindow: Int? = nil
    var slidingLayers: Int? = nil

    func text() throws -> String { try JSONCoding.line(self) }
    static func parse(_ text: String) -> ClaimsHeader? { try? JSONCoding.decode(ClaimsHeader.self, from: text) }
}

/// Rows -> examples.jsonl, the report and the figures (the unsharded run and the merge share it).
enum ClaimsOutput {
    static func finish(rows: [ExampleRow], header: ClaimsHeader, dir: String, seconds: Double, peakRSS: Int, json: Bool, quiet: Bool = false) throws {
        try rows.map { try ClaimSession.line($0) + "\n" }.joined().write(toFile: dir + "/examples.jsonl", atomically: true, encoding: .utf8)
        let outcomes = ClaimAggregate.outcomes(ClaimCatalog.all, rows: rows, seed: header.settings.seed)
        var report = ClaimReport(model: header.modelName, settings: header.settings, outcomes: outcomes, rows: rows,
                                 layers: header.layers, heads: header.heads)
        report.slidingWindow = header.slidingWindow
        report.slidingLayers = header.slidingLayers ?? 0
        try report.write(to: dir, seconds: seconds, peakRSS: peakRSS)
        if json {
            print(try JSONCoding.line(outcomes))
        }
        else { print(report.terminalSummary) }
        if !quiet { Log.info(String(format: "claims: %d claims over %d examples in %.0f s (peak RSS %.2f GB) -> %@/claims.md",
                        outcomes.count, rows.count, seconds, Double(peakRSS) / 1e9, dir)) }
    }
}

/// `biasprobe claims merge OUT [PART...]`.
struct ClaimsMerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the parts of a sharded claims run into the examples.jsonl, claims.md, claims.json and figures an unsharded run writes.",
        discussion: """
        The rows are copied as the shards wrote them, in the unsharded order, so the table is the \
        one an unsharded run prints; only the rows' seconds and the report's wall time and peak \
        RSS (the sum of the rows' seconds and the largest part's) differ. Without PART arguments, \
        OUT.part-I-of-N.jsonl next to OUT are used.
        """)
    @Argument(help: "The merged examples file (DIR/examples.jsonl); the report goes next to it.") var out: String
    @Argument(help: "The part files.") var parts: [String] = []
    @Flag(help: "Print the claims as JSON.") var json = false
    @Flag(help: "Merge the examples done so far (an interim report of an unfinished run, marked as such in claims.md).") var partial = false

    func run() throws { try Self.mergeFiles(out: out, parts: try MergeInputs.resolve(out: out, parts: parts), json: json, partial: partial) }

    /// `seconds`: the wall time to report (--processes knows it); by default the sum of the rows' times.
    static func mergeFiles(out: String, parts: [String], json: Bool, seconds wall: Double? = nil, quiet: Bool = false, partial: Bool = false) throws {
        guard let header = ClaimsHeader.parse(try PartHeader.read(path: parts[0]).settings) else { throw CLIError("\(parts[0]) is not a part of a claims run") }
        let loaded = try parts.map { (path: $0, part: try EvalPart<ExampleRow>.read(path: $0, rowName: "claims example")) }
        let (rows, peak, _) = try EvalMerge.merge(loaded, partial: partial)
        guard !rows.isEmpty else { throw CLIError("\(parts[0]): no example finished yet") }
        let seconds = wall ?? rows.reduce(0.0) { $0 + $1.seconds }
        let dir = (out as NSString).deletingLastPathComponent
        guard (out as NSString).lastPathComponent == "examples.jsonl" else { throw CLIError("name the merged file DIR/examples.jsonl: the report goes next to it") }
        try ClaimsOutput.finish(rows: rows, header: header, dir: dir.isEmpty ? "." : dir, seconds: seconds, peakRSS: Int(peak), json: json, quiet: quiet)
        let root = ((dir.isEmpty ? "." : dir) as NSString).deletingLastPathComponent
        if root.hasSuffix("outputs/claims") && header.settings.size != .quick { try ClaimComparison.write(root: root) }
        if wall == nil { print("merged \(parts.count) parts (\(rows.count) examples) into \(out)") }
    }
}

/// `biasprobe claims compare`: rewrite the model comparison from the claims.json files present.
struct ClaimsCompare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Rewrite ROOT/comparison.md (claim x model) from every ROOT/*/claims.json; a claims run does this by itself.")
    @Option(help: "Folder holding one subfolder per model.") var root = "outputs/claims"

    func run() throws {
        guard FileManager.default.fileExists(atPath: root) else { throw CLIError("no folder \(root)") }
        try ClaimComparison.write(root: root)
        print("wrote \(root)/comparison.md")
    }
}

/// `biasprobe claims reanalyse DIR/examples.jsonl`: protocol v2's statistics on a v1 run's rows.
struct ClaimsReanalyse: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reanalyse",
        abstract: "Apply the current protocol's statistics to the per-example numbers of an earlier claims run (nothing is re-run).",
        discussion: "Writes DIR/reanalysis-v\(ClaimProtocol.version).md next to the examples file, naming the data file, its sha256 and this command.")
    @Argument(help: "A claims run's examples.jsonl (its claims.json next to it gives the model and settings).") var examples: String
    @Option(help: "Where to write (default: reanalysis-vN.md next to the examples file).") var out: String?
    @Option(help: "The commit that holds the examples file, for the provenance line (e.g. git log -1 --format=%h -- FILE).") var dataCommit: String?

    func run() throws {
        guard FileManager.default.fileExists(atPath: examples) else { throw CLIError("no file \(examples)") }
        let text = try String(contentsOfFile: examples, encoding: .utf8)
        let rows = try text.split(separator: "\n").filter { !$0.isEmpty }.enumerated().map { i, l in
            do { return try ClaimSession.parse(String(l)) } catch { throw CLIError("\(examples) line \(i + 1) is not a claims example row") }
        }
        guard !rows.isEmpty else { throw CLIError("\(examples) holds no example rows") }
        let dir = (examples as NSString).deletingLastPathComponent
        struct Doc: Decodable { var model: String; var settings: ClaimSettings?; var claims: [ClaimOutcome]? }
        let doc = FileManager.default.contents(atPath: (dir.isEmpty ? "." : dir) + "/claims.json").flatMap { try? JSONCoding.decode(Doc.self, from: $0) }
        let settings = doc?.settings ?? ClaimSettings()
        let md = ClaimReanalysis.markdown(rows: rows, seed: settings.seed, model: doc?.model ?? "?", settings: settings, dataFile: examples,
                                          dataSHA256: try sha256(of: examples), dataCommit: dataCommit, command: "biasprobe " + CommandLine.arguments.dropFirst().joined(separator: " "),
                                          v1Verdicts: Dictionary((doc?.claims ?? []).map { ($0.id, $0.verdict.rawValue) }, uniquingKeysWith: { a, _ in a }))
        let path = out ?? ((dir.isEmpty ? "." : dir) + "/reanalysis-v\(ClaimProtocol.version).md")
        try md.write(toFile: path, atomically: true, encoding: .utf8)
        print("wrote \(path)")
    }
}
