import ArgumentParser
import Foundation
import ProbeAnalysis

struct Slurm: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a sweep, eval or claims run sharded over a Slurm job array, merge it, and follow its progress.",
        discussion: """
        biasprobe slurm sweep ARGS... --shards N writes two batch scripts next to the sweep's \
        output (one array task per shard, and a merge job) and submits them with sbatch, the \
        merge with --dependency=afterok on the array. 'slurm status DIR' reads the parts on disk \
        and the queue; 'slurm resubmit DIR' queues the unfinished shards and the merge again.
        """,
        subcommands: [SlurmSweep.self, SlurmEval.self, SlurmClaims.self, SlurmStatus.self, SlurmResubmit.self])
}

/// The options every `slurm <command>` shares. Their names must not collide with the wrapped
/// command's, whose arguments are everything else on the line.
struct SlurmOptions: ParsableArguments {
    @Option(help: "How many shards (array tasks).") var shards: Int
    @Option(help: "Slurm partition (default: the cluster's).") var partition: String?
    @Option(help: "Time limit per task, as sbatch takes it (e.g. 2:00:00).") var time: String?
    @Option(name: .customLong("cpus-per-task"), help: "Cores per task (biasprobe runs as many threads).") var cpusPerTask = 1
    @Option(help: "Memory per task, as sbatch takes it (e.g. 4G).") var mem: String?
    @Flag(name: .customLong("dry-run"), help: "Write the scripts and print them and the sbatch commands; submit nothing.") var dryRun = false

    func validate() throws {
        guard shards >= 1 else { throw ValidationError("--shards must be at least 1") }
        guard (1...256).contains(cpusPerTask) else { throw ValidationError("--cpus-per-task must be between 1 and 256") }
    }

    /// Writes the scripts and manifest for `command args` (whose unsharded output is `out`) and submits them.
    func launch(command: String, arguments: [String], out: String) throws {
        for a in arguments where a == "--shard" || a.hasPrefix("--shard=") || a == "--threads" || a.hasPrefix("--threads=") {
            throw CLIError("give \(a.split(separator: "=")[0]) to neither biasprobe slurm nor the command: each array task gets its shard and --cpus-per-task threads")
        }
        let fm = FileManager.default
        let cwd = fm.currentDirectoryPath
        let absOut = URL(fileURLWithPath: out, relativeTo: URL(fileURLWithPath: cwd, isDirectory: true)).standardizedFileURL.path
        let dir = (absOut as NSString).deletingLastPathComponent
        let stem = ((absOut as NSString).deletingPathExtension as NSString).lastPathComponent
        let logs = (dir as NSString).appendingPathComponent("logs")
        try fm.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let binary = CommandLineEntry.executablePath
        var job = SlurmJob(command: command, arguments: arguments, shards: shards, out: absOut, workingDirectory: cwd, binary: binary,
                           shardScript: (dir as NSString).appendingPathComponent("\(stem).sbatch"),
                           mergeScript: (dir as NSString).appendingPathComponent("\(stem).merge.sbatch"))
        let r = SlurmJob.Resources(partition: partition, time: time, cpusPerTask: cpusPerTask, mem: mem)
        try job.shardScriptText(r, logs: logs).write(toFile: job.shardScript, atomically: true, encoding: .utf8)
        try job.mergeScriptText(r, logs: logs).write(toFile: job.mergeScript, atomically: true, encoding: .utf8)
        try job.saveManifest()
        if dryRun {
            print("# \(job.shardScript)\n" + (try String(contentsOfFile: job.shardScript, encoding: .utf8)))
            print("# \(job.mergeScript)\n" + (try String(contentsOfFile: job.mergeScript, encoding: .utf8)))
            print("# submit with:\nA=$(sbatch --parsable \(shellQuote(job.shardScript)))")
            print("sbatch --dependency=afterok:${A%%;*} \(shellQuote(job.mergeScript))")
            return
        }
        let (a, m) = try SlurmSubmit.submit(&job, array: nil)
        print("submitted array job \(a) (\(shards) shards) and merge job \(m) (after all succeed)")
        print("scripts: \(job.shardScript), \(job.mergeScript); progress: biasprobe slurm status \(dir)")
    }
}

enum SlurmSubmit {
    /// sbatch the shards (all, or an --array list) and a merge that waits for them; records both ids.
    static func submit(_ job: inout SlurmJob, array: String?) throws -> (String, String) {
        let a = try slurmTool("sbatch", ["--parsable"] + (array.map { ["--array=\($0)"] } ?? []) + [job.shardScript])
        let arrayID = String(a.split(separator: ";")[0])
        job.arrayJobs.append(arrayID)
        try job.saveManifest()
        let m = try slurmTool("sbatch", ["--parsable", "--dependency=afterok:\(arrayID)", job.mergeScript])
        job.mergeJobs.append(String(m.split(separator: ";")[0]))
        try job.saveManifest()
        return (arrayID, job.mergeJobs.last!)
    }
}

struct SlurmSweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Submit a sweep as a Slurm job array (one task per shard) plus its merge.",
        discussion: "Every argument not listed below goes to 'biasprobe sweep' unchanged, e.g. biasprobe slurm sweep --shards 8 --time 4:00:00 --length 128k --vary keep-chunks=1,2 -o runs/sweep.h5")
    @OptionGroup var slurm: SlurmOptions
    @Argument(parsing: .allUnrecognized, help: "The sweep's arguments.") var arguments: [String] = []

    func run() throws {
        // The sweep's own parser checks its arguments now, not in every array task.
        let sweep: Sweep
        do { sweep = try Sweep.parse(arguments) } catch { throw CLIError("sweep arguments: \(Sweep.message(for: error))") }
        try slurm.launch(command: "sweep", arguments: arguments, out: sweep.out)
    }
}

struct SlurmEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Submit an eval as a Slurm job array (one task per shard) plus its merge.",
        discussion: "Every argument not listed below goes to 'biasprobe eval' unchanged; give --out FILE.jsonl.")
    @OptionGroup var slurm: SlurmOptions
    @Argument(parsing: .allUnrecognized, help: "The eval's arguments.") var arguments: [String] = []

    func run() throws {
        let eval: Eval
        do { eval = try Eval.parse(arguments) } catch { throw CLIError("eval arguments: \(Eval.message(for: error))") }
        guard let out = eval.out else { throw CLIError("give the eval an output file: --out FILE.jsonl") }
        try slurm.launch(command: "eval", arguments: arguments, out: out)
    }
}

struct SlurmClaims: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "claims",
        abstract: "Submit a claims run as a Slurm job array (one task per shard) plus its merge.",
        discussion: "Every argument not listed below goes to 'biasprobe claims' unchanged; the parts and the report go to its --out-dir.")
    @OptionGroup var slurm: SlurmOptions
    @Argument(parsing: .allUnrecognized, help: "The claims run's arguments.") var arguments: [String] = []

    func run() throws {
        let claims: ClaimsRun
        do { claims = try ClaimsRun.parse(arguments) } catch { throw CLIError("claims arguments: \(ClaimsRun.message(for: error))") }
        try slurm.launch(command: "claims", arguments: arguments, out: claims.dir + "/examples.jsonl")
    }
}

/// What the parts on disk and the queue say about each shard.
struct ShardState {
    var shard: Shard
    var state: String       // done, running, pending, failed, not started, unknown (no squeue)
    var done: Int
    var total: Int?
    var host: String

    static func all(_ job: SlurmJob) -> [ShardState] {
        let queue = queuedTasks(job.arrayJobs)
        return (1...job.shards).map { i in
            let s = Shard(index: i, count: job.shards), path = s.partPath(for: job.out)
            var st = ShardState(shard: s, state: "not started", done: 0, total: nil, host: "")
            if FileManager.default.fileExists(atPath: path), let p = try? PartProgress.read(command: job.command, path: path) {
                st.done = p.done; st.total = p.total; st.host = p.host
            }
            if let t = st.total, st.done == t { st.state = "done" }
            else if job.arrayJobs.isEmpty { st.state = "not started" }
            else if let queue { st.state = queue[i].map { $0 == "R" || $0 == "CG" ? "running" : "pending" } ?? "failed" }
            else { st.state = "unknown" }   // the queue cannot be read: neither running nor failed can be told
            return st
        }
    }
}

/// Items done in a part, whatever the command.
enum PartProgress {
    static func read(command: String, path: String) throws -> (done: Int, total: Int, host: String) {
        switch command {
        case "eval", "claims":
            let p = try EvalPart<JSONValue>.read(path: path, rowName: command == "eval" ? "eval" : "claims example")
            return (p.rows.count, p.header.items.count, p.header.host)
        default:
            let r = try SweepResults.read(path: path, allowPart: true)
            guard let s = r.shard else { throw CLIError("\(path) is not a part") }
            return (s.items.count - s.missing.count, s.items.count, s.host)
        }
    }
}

struct SlurmStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Done, running, pending and failed shards of the jobs submitted into a folder.")
    @Argument(help: "The output folder (or one OUT.slurm.json).") var dir: String
    @Flag(help: "JSON lines: one per shard, then one per job.") var json = false

    func run() throws {
        for m in try SlurmJob.manifests(in: dir) {
            let job = try SlurmJob.load(m)
            let states = ShardState.all(job)
            let mergeQueue = job.mergeJobs.isEmpty ? "" : ((try? slurmTool("squeue", ["-h", "-j", job.mergeJobs.last!, "-o", "%t %r"])) ?? "")
            let merged = FileManager.default.fileExists(atPath: job.out)
            if json {
                for s in states {
                    try JSONOut.emit(ShardStatusLine(out: job.out, shard: s.shard.description, state: s.state, itemsDone: s.done, items: s.total, host: s.host))
                }
                try JSONOut.emit(JobStatusLine(out: job.out, shards: job.shards, done: states.filter { $0.state == "done" }.count,
                                               merged: merged, arrayJobs: job.arrayJobs, mergeJobs: job.mergeJobs))
                continue
            }
            print("\(job.command) -> \(job.out): \(job.shards) shards, array job\(job.arrayJobs.count == 1 ? "" : "s") \(job.arrayJobs.joined(separator: ", "))")
            for s in states {
                let items = s.total.map { "\(s.done) of \($0) items" } ?? "no part yet"
                print("  shard \(s.shard)".padding(toLength: 14, withPad: " ", startingAt: 0) + s.state.padding(toLength: 12, withPad: " ", startingAt: 0)
                      + items + (s.host.isEmpty ? "" : "  (\(s.host))"))
            }
            let counts = ["done", "running", "pending", "failed", "not started", "unknown"].compactMap { k -> String? in
                let n = states.filter { $0.state == k }.count
                return n == 0 ? nil : "\(n) \(k)"
            }
            print("  " + counts.joined(separator: ", ") + "; merged: " + (merged ? "yes" : mergeQueue.isEmpty ? "no" : "no (merge job \(job.mergeJobs.last!): \(mergeQueue))"))
            if states.contains(where: { $0.state == "failed" }) { print("  re-run the failed shards and the merge: biasprobe slurm resubmit \(dir)") }
            if states.contains(where: { $0.state == "unknown" }) { print("  squeue could not be asked (is SLURM_CONF set, the controller up?): unfinished shards may be running or failed") }
        }
    }
}

struct SlurmResubmit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resubmit",
        abstract: "Queue again the shards that are neither done nor queued (they resume their parts), and the merge.")
    @Argument(help: "The output folder (or one OUT.slurm.json).") var dir: String

    func run() throws {
        for m in try SlurmJob.manifests(in: dir) {
            var job = try SlurmJob.load(m)
            let states = ShardState.all(job)
            if states.contains(where: { $0.state == "unknown" }) {
                throw CLIError("cannot read Slurm's queue (squeue failed): is SLURM_CONF set and the controller up?")
            }
            let redo = states.filter { $0.state == "failed" || $0.state == "not started" }.map(\.shard.index)
            if redo.isEmpty {
                print("\(job.out): no shard to resubmit")
                continue
            }
            // A merge still waiting on the old array can never start: replace it.
            if let old = job.mergeJobs.last { _ = try? slurmTool("scancel", [old]) }
            let (a, mj) = try SlurmSubmit.submit(&job, array: redo.map(String.init).joined(separator: ","))
            print("\(job.out): resubmitted shard\(redo.count == 1 ? "" : "s") \(redo.map(String.init).joined(separator: ",")) as array job \(a), merge job \(mj)")
        }
    }
}

/// `slurm status --json`: one line per shard...
struct ShardStatusLine: Encodable {
    var out: String, shard: String, state: String, itemsDone: Int
    /// nil (null) while the shard has no part yet.
    var items: Int?
    var host: String
    enum CodingKeys: String, CodingKey { case out, shard, state, itemsDone = "items_done", items, host }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(out, forKey: .out); try c.encode(shard, forKey: .shard); try c.encode(state, forKey: .state)
        try c.encode(itemsDone, forKey: .itemsDone); try c.encode(items, forKey: .items); try c.encode(host, forKey: .host)
    }
}

/// ... then one per job.
struct JobStatusLine: Encodable {
    var out: String, shards: Int, done: Int, merged: Bool, arrayJobs: [String], mergeJobs: [String]
    enum CodingKeys: String, CodingKey { case out, shards, done, merged, arrayJobs = "array_jobs", mergeJobs = "merge_jobs" }
}
