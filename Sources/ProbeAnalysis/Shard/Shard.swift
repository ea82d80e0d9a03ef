import Foundation

/// `--shard I/N`: the I-th (1-based, as Slurm array tasks usually are) of N parts of a work list.
public struct Shard: Equatable, CustomStringConvertible {
    public var index: Int   // 1...count
    public var count: Int
    public var description: String { "\(index)/\(count)" }

    public init(index: Int, count: Int) { self.index = index; self.count = count }

    public init?(argument: String) {
        let p = argument.split(separator: "/", omittingEmptySubsequences: false)
        guard p.count == 2, let i = Int(p[0]), let n = Int(p[1]), n >= 1, (1...n).contains(i) else { return nil }
        self.init(index: i, count: n)
    }
    public static var defaultValueDescription: String { "I/N with 1 <= I <= N" }

    /// The shard of a Slurm array task, when biasprobe runs inside one and no --shard is given.
    /// Arrays numbered 0..N-1 and 1..N both work; a task that cannot be placed (e.g. a lone
    /// resubmitted --array=3, which Slurm reports as a one-task array) is refused rather than
    /// silently running the whole list.
    public static func fromEnvironment(_ env: [String: String]) throws -> Shard? {
        guard let idText = env["SLURM_ARRAY_TASK_ID"], let countText = env["SLURM_ARRAY_TASK_COUNT"] else { return nil }
        guard let id = Int(idText), let n = Int(countText), n >= 1 else {
            throw AnalysisError("SLURM_ARRAY_TASK_ID=\(idText) / SLURM_ARRAY_TASK_COUNT=\(countText) are not numbers: pass --shard I/N")
        }
        let i = env["SLURM_ARRAY_TASK_MIN"] == "0" ? id + 1 : id
        guard (1...n).contains(i) else {
            throw AnalysisError("Slurm array task \(id) of a \(n)-task array is not a shard 1...\(n): pass --shard I/N explicitly")
        }
        return Shard(index: i, count: n)
    }

    /// Where a shard writes its part: next to the unsharded output, with the shard in the name,
    /// so every array task can run the same command line.
    public func partPath(for out: String) -> String {
        let ns = out as NSString
        let ext = ns.pathExtension
        let stem = ext.isEmpty ? out : ns.deletingPathExtension
        return "\(stem).part-\(index)-of-\(count)" + (ext.isEmpty ? "" : ".\(ext)")
    }

    /// The part files of `out` already on disk (any shard count), sorted by shard.
    public static func existingParts(of out: String) -> [(Shard, String)] {
        let ns = out as NSString
        let folder = ns.deletingLastPathComponent.isEmpty ? "." : ns.deletingLastPathComponent
        let ext = ns.pathExtension
        let stem = ((ext.isEmpty ? out : ns.deletingPathExtension) as NSString).lastPathComponent
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        var found: [(Shard, String)] = []
        for name in names where name.hasPrefix(stem + ".part-") && !name.hasPrefix(".") {
            var rest = name.dropFirst(stem.count + 6)
            if !ext.isEmpty { guard rest.hasSuffix("." + ext) else { continue }; rest = rest.dropLast(ext.count + 1) }
            let p = rest.split(separator: "-")
            guard p.count == 3, p[1] == "of", let s = Shard(argument: "\(p[0])/\(p[2])") else { continue }
            found.append((s, ns.deletingLastPathComponent.isEmpty ? name : (folder as NSString).appendingPathComponent(name)))
        }
        return found.sorted { ($0.0.count, $0.0.index) < ($1.0.count, $1.0.index) }
    }
}

/// This machine's name, recorded in parts (it differs between shards, so merge ignores it).
public var hostName: String { ProcessInfo.processInfo.hostName }

/// A list shortened for a one-line message.
public func shortList(_ items: [String], limit: Int = 4) -> String {
    items.count <= limit ? items.joined(separator: ", ") : items.prefix(limit).joined(separator: ", ") + " and \(items.count - limit) more"
}
