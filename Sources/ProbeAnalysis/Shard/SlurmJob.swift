import Foundation
import PCInference

/// A sharded run submitted to Slurm: the batch scripts `biasprobe slurm` writes, and the manifest
/// (`OUT.slurm.json`) that `slurm status` and `slurm resubmit` read back.
public struct SlurmJob: Codable {
    /// The biasprobe subcommand: sweep, eval or claims.
    public var command: String
    /// Its arguments as the user gave them (without --shard).
    public var arguments: [String]
    public var shards: Int
    /// The unsharded output (absolute); parts are OUT.part-I-of-N.EXT next to it.
    public var out: String
    public var workingDirectory: String
    public var binary: String
    public var shardScript: String
    public var mergeScript: String
    /// Array job ids submitted so far (the last one is current for the shards it ran), and merge jobs.
    public var arrayJobs: [String] = []
    public var mergeJobs: [String] = []
    public init(command: String, arguments: [String], shards: Int, out: String, workingDirectory: String, binary: String, shardScript: String, mergeScript: String, arrayJobs: [String] = [], mergeJobs: [String] = []) {
        self.command = command; self.arguments = arguments; self.shards = shards; self.out = out; self.workingDirectory = workingDirectory; self.binary = binary; self.shardScript = shardScript; self.mergeScript = mergeScript; self.arrayJobs = arrayJobs; self.mergeJobs = mergeJobs
    }

    public var manifestPath: String { Self.manifestPath(out: out) }
    public static func manifestPath(out: String) -> String { (out as NSString).deletingPathExtension + ".slurm.json" }
    public var partPaths: [String] { (1...shards).map { Shard(index: $0, count: shards).partPath(for: out) } }

    public struct Resources {
        var partition: String?; var time: String?; var cpusPerTask: Int; var mem: String?
        public init(partition: String?, time: String?, cpusPerTask: Int, mem: String?) {
            self.partition = partition; self.time = time; self.cpusPerTask = cpusPerTask; self.mem = mem
        }
    }

    /// One array task per shard. Plain bash with #SBATCH lines, so a site can add its account,
    /// modules or constraints by hand.
    public func shardScriptText(_ r: Resources, logs: String) -> String {
        let stem = ((out as NSString).deletingPathExtension as NSString).lastPathComponent
        var s = """
        #!/bin/bash
        # biasprobe \(command), sharded over a Slurm job array: task I runs shard I of \(shards) and
        # writes \(Shard(index: 1, count: shards).partPath(for: out).replacingOccurrences(of: "part-1-of", with: "part-I-of")).
        # Written by `biasprobe slurm \(command)`; edit it for your site (account, modules, constraints).
        # A task that was killed resumes its part when resubmitted, e.g. shard 2 only:
        #   sbatch --array=2 \(shardScript)
        # (or `biasprobe slurm resubmit \((out as NSString).deletingLastPathComponent)`, which also queues the merge again).
        #SBATCH --job-name=biasprobe-\(command)-\(stem)
        #SBATCH --array=1-\(shards)
        #SBATCH --cpus-per-task=\(r.cpusPerTask)
        #SBATCH --output=\(logs)/\(stem).shard-%a.out

        """
        if let p = r.partition { s += "#SBATCH --partition=\(p)\n" }
        if let t = r.time { s += "#SBATCH --time=\(t)\n" }
        if let m = r.mem { s += "#SBATCH --mem=\(m)\n" }
        s += """
        set -euo pipefail
        cd \(shellQuote(workingDirectory))
        # The shard is explicit (not taken from SLURM_ARRAY_TASK_COUNT) so a resubmitted single task
        # still knows it is one of \(shards).
        exec \(shellQuote(binary)) \(command) \(arguments.map(shellQuote).joined(separator: " ")) \\
            --threads "${SLURM_CPUS_PER_TASK:-\(r.cpusPerTask)}" --shard "${SLURM_ARRAY_TASK_ID}/\(shards)"

        """
        return s
    }

    /// The merge, run after every shard succeeded (the submitter adds --dependency=afterok).
    public func mergeScriptText(_ r: Resources, logs: String) -> String {
        let stem = ((out as NSString).deletingPathExtension as NSString).lastPathComponent
        var s = """
        #!/bin/bash
        # Joins the \(shards) parts of the sharded biasprobe \(command) into \((out as NSString).lastPathComponent).
        # Submitted with --dependency=afterok on the shards' array job; a failed shard cancels it
        # (--kill-on-invalid-dep), and `biasprobe slurm resubmit` queues it again.
        #SBATCH --job-name=biasprobe-\(command)-\(stem)-merge
        #SBATCH --cpus-per-task=1
        #SBATCH --kill-on-invalid-dep=yes
        #SBATCH --output=\(logs)/\(stem).merge.out

        """
        if let p = r.partition { s += "#SBATCH --partition=\(p)\n" }
        if let t = r.time { s += "#SBATCH --time=\(t)\n" }
        s += """
        set -euo pipefail
        cd \(shellQuote(workingDirectory))
        exec \(shellQuote(binary)) \(command) merge \(shellQuote(out)) \\
            \(partPaths.map(shellQuote).joined(separator: " \\\n    "))

        """
        return s
    }

    public func saveManifest() throws {
        try JSONCoding.encoder(pretty: true).encode(self).write(to: URL(fileURLWithPath: manifestPath), options: .atomic)
    }

    public static func load(_ path: String) throws -> SlurmJob {
        guard let d = FileManager.default.contents(atPath: path) else { throw AnalysisError("cannot read \(path)") }
        do { return try JSONCoding.decode(SlurmJob.self, from: d) } catch { throw AnalysisError("\(path) is not a biasprobe slurm manifest: \(error)") }
    }

    /// The manifests in a folder (or the one given).
    public static func manifests(in dir: String) throws -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) else { throw AnalysisError("\(dir) does not exist") }
        if !isDir.boolValue { return [dir] }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".slurm.json") }.sorted()
        guard !names.isEmpty else { throw AnalysisError("no biasprobe slurm jobs in \(dir) (no *.slurm.json: submit with biasprobe slurm sweep|eval)") }
        return names.map { (dir as NSString).appendingPathComponent($0) }
    }
}

/// Single-quoted for bash, unless plainly safe.
public func shellQuote(_ s: String) -> String {
    let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%")
    if !s.isEmpty && s.allSatisfy({ safe.contains($0) }) { return s }
    return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// Runs a Slurm client program; its stdout, or a one-line error.
@discardableResult
public func slurmTool(_ name: String, _ args: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [name] + args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    do { try p.run() } catch { throw AnalysisError("cannot run \(name): \(error) (is Slurm's client installed?)") }
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let stderr = String(decoding: e, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard p.terminationStatus == 0 else {
        throw AnalysisError("\(name) \(args.joined(separator: " ")) failed (status \(p.terminationStatus)): \(stderr.split(separator: "\n").first.map(String.init) ?? "")")
    }
    return String(decoding: o, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Array tasks of a job still in Slurm's queue: shard index -> state (R, PD, CG...); empty when
/// the jobs have left the queue, nil when squeue cannot be asked (not installed, no controller).
public func queuedTasks(_ jobs: [String]) -> [Int: String]? {
    guard !jobs.isEmpty else { return [:] }
    guard let text = try? slurmTool("squeue", ["-h", "-r", "-j", jobs.joined(separator: ","), "-o", "%i %t"]) else {
        // squeue also fails once every listed job has been purged from the controller's memory.
        return (try? slurmTool("squeue", ["-h", "-o", "%i"])) != nil ? [:] : nil
    }
    var out: [Int: String] = [:]
    for line in text.split(separator: "\n") {
        let f = line.split(separator: " ")
        guard f.count == 2, let us = f[0].lastIndex(of: "_"), let i = Int(f[0][f[0].index(after: us)...]) else { continue }
        out[i] = String(f[1])
    }
    return out
}
