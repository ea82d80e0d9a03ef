import ArgumentParser
import Foundation
import PCInference
import ProbeAnalysis

/// `biasprobe merge OUT PART...`: joins the parts of a sharded sweep or eval, whichever they are.
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join the parts of a sharded sweep, eval or claims run (--shard I/N) into the file an unsharded run writes.",
        discussion: """
        Parts must come from the same command, model file (SHA-256), settings and work list; every \
        item must be in exactly one part. Mismatched parts are refused naming the first \
        difference; missing shards and unfinished items are listed, and re-running only those \
        shards completes the merge. Without PART arguments, the parts next to OUT \
        (OUT.part-I-of-N.*) are used.
        """)

    @Argument(help: "The merged file to write (a sweep .h5, an eval .jsonl, or a claims DIR/examples.jsonl).") var out: String
    @Argument(help: "The part files.") var parts: [String] = []
    @Flag(help: "Hide the summary.") var quiet = false

    func run() throws {
        let list = try MergeInputs.resolve(out: out, parts: parts)
        // A .jsonl output or part is an eval (or claims) merge even when the part is damaged, so
        // its error speaks of eval parts, not of sweeps.
        if PartHeader.looksLikePart(list[0]) || out.hasSuffix(".jsonl") || list[0].hasSuffix(".jsonl") {
            // Claims parts share the eval part format; their settings say which they are.
            if let h = try? PartHeader.read(path: list[0]), ClaimsHeader.parse(h.settings) != nil {
                return try ClaimsMerge.mergeFiles(out: out, parts: list, json: false)
            }
            try EvalMergeCommand.mergeFiles(out: out, parts: list, quiet: quiet)
        } else {
            try SweepMergeCommand.mergeFiles(out: out, parts: list, quiet: quiet)
        }
    }
}

/// `biasprobe eval merge OUT [PART...]`.
struct EvalMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the parts of a sharded eval into the JSON lines an unsharded 'eval --json --out OUT' writes.",
        discussion: """
        Rows are copied as the shards printed them, in the unsharded order; they differ from an \
        unsharded run's only in seconds and chunks_reused (each process has its own chunk-score \
        memo). In the summary line, seconds is the sum of the rows' and peak_rss_bytes the largest \
        part's. Without PART arguments, OUT.part-I-of-N.jsonl next to OUT are used.
        """)

    @Argument(help: "The merged JSON lines file to write.") var out: String
    @Argument(help: "The part files (OUT.part-I-of-N.jsonl).") var parts: [String] = []
    @Flag(help: "Hide the summary.") var quiet = false

    func run() throws { try Self.mergeFiles(out: out, parts: try MergeInputs.resolve(out: out, parts: parts), quiet: quiet) }

    static func mergeFiles(out: String, parts: [String], quiet: Bool) throws {
        // Every row must be an eval result with the right types ("seed": "zero" is not one): the
        // parts are read as typed rows.
        let loaded = try parts.map { (path: $0, part: try EvalPart<EvalRow>.read(path: $0, rowName: "eval")) }
        let (rows, peak, _) = try EvalMerge.merge(loaded)
        guard let settings = try? JSONCoding.decode(EvalSettings.self, from: loaded[0].part.header.settings) else {
            throw CLIError("\(loaded[0].path): its settings are not an eval's")
        }
        let seconds = rows.reduce(0.0) { $0 + $1.seconds }
        let summary = Eval.summary(rows: rows, config: settings.config, seconds: seconds, peakRSS: peak)
        try Eval.lines(rows, summary).write(toFile: out, atomically: true, encoding: .utf8)
        if !quiet {
            print(Eval.table(rows: rows, depths: settings.depths.count, seeds: settings.seeds))
            print("merged \(parts.count) parts (\(rows.count) rows) into \(out)")
        }
    }
}

/// `biasprobe sweep merge OUT [PART...]`.
struct SweepMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the parts of a sharded sweep into the file an unsharded run writes.",
        discussion: """
        Per-example results and per-point aggregates are byte-identical to an unsharded run's; \
        results/seconds, points/seconds, points/peak_rss_bytes and peak_rss_gb (largest of the \
        parts), points/chunks_prefilled and chunks_reused (per-process score memo; their sum is \
        the same) differ, and the file gains the attributes merged_parts and merged_hosts. \
        Without PART arguments, OUT.part-I-of-N.h5 next to OUT are used.
        """)

    @Argument(help: "The merged sweep file to write.") var out: String
    @Argument(help: "The part files (OUT.part-I-of-N.h5).") var parts: [String] = []
    @Flag(help: "Hide the summary.") var quiet = false

    func run() throws { try Self.mergeFiles(out: out, parts: try MergeInputs.resolve(out: out, parts: parts), quiet: quiet) }

    static func mergeFiles(out: String, parts: [String], quiet: Bool) throws {
        let loaded = try parts.map { SweepMerge.Part(path: $0, results: try SweepResults.read(path: $0, allowPart: true)) }
        let merged = try SweepMerge.merge(loaded)
        try merged.write(path: out)
        if !quiet {
            print(Sweep.table(merged, merged.points))
            if let best = Sweep.recommended(merged, merged.points) { print("recommended: \(best.label)  (\(Sweep.rule))") }
            print("merged \(parts.count) parts (\(merged.points.count) points x \(merged.examples.count) examples) into \(out)")
        }
    }
}

enum MergeInputs {
    /// The parts to merge: as given, or found next to OUT. OUT itself is never a part.
    static func resolve(out: String, parts: [String]) throws -> [String] {
        var list = parts
        if list.isEmpty {
            let found = Shard.existingParts(of: out)
            guard let n = found.last?.0.count else { throw CLIError("no parts given and none found next to \(out) (\(Shard(index: 1, count: 2).partPath(for: out)) ...)") }
            // Parts of an older split of the same output are left out.
            list = found.filter { $0.0.count == n }.map(\.1)
        }
        let std = { (p: String) in URL(fileURLWithPath: p).standardizedFileURL.path }
        if list.contains(where: { std($0) == std(out) }) { throw CLIError("\(out) is both the output and a part: name another output") }
        // Also through links (same device and inode), and never onto a device, FIFO or folder.
        try OutputFile.check(out, option: "OUT", inputs: list.map { ("part", $0) })
        return list
    }
}
