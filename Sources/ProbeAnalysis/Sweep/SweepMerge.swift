import Foundation
import PCInference

/// Joins the parts of a sharded sweep into the file an unsharded run writes.
///
/// Every per-example result is copied from the one part that holds it, and the per-point
/// aggregates are computed from the joined table exactly as an unsharded run computes them, so
/// those datasets are byte-identical. What depends on where and with what the work ran differs:
/// per-example seconds, peak RSS (the largest of the parts that ran a point), chunks prefilled
/// and reused (each process has its own chunk-score memo; their sum is the same), and the
/// attributes merged_parts and merged_hosts, which an unsharded file does not have.
public enum SweepMerge {
    public struct Part {
        let path: String; let results: SweepResults
        public init(path: String, results: SweepResults) { self.path = path; self.results = results }
    }

    public static func merge(_ parts: [Part]) throws -> SweepResults {
        guard let first = parts.first else { throw AnalysisError("no parts to merge") }
        for p in parts where p.results.shard == nil {
            throw AnalysisError("\(p.path) is not a part of a sharded sweep (no shard attribute)")
        }
        for p in parts.dropFirst() {
            if let d = firstDifference(first, p) { throw AnalysisError("cannot merge: \(d)") }
        }
        // Each shard once.
        var byShard: [Int: Part] = [:]
        for p in parts {
            let s = p.results.shard!.shard
            if let q = byShard[s.index] { throw AnalysisError("cannot merge: shard \(s) is given twice (\(q.path) and \(p.path))") }
            byShard[s.index] = p
        }
        let owner = try owners(parts)
        try checkComplete(parts, byShard: byShard, owner: owner)
        return join(parts, byShard: byShard, owner: owner)
    }

    /// "point task depth d seed s" of work item i.
    static func describeItem(_ first: Part, _ i: Int) -> String {
        let E = first.results.examples.count, e = first.results.examples[i % E]
        return "\(first.results.points[i / E].label) \(e.task.rawValue) depth \(e.depth) seed \(e.seed)"
    }

    /// The part that owns each work item: each item in exactly one part, and no part holding a
    /// result it does not own (it was not written by this biasprobe).
    static func owners(_ parts: [Part]) throws -> [Int?] {
        let first = parts[0], P = first.results.points.count, E = first.results.examples.count
        let itemName = { describeItem(first, $0) }
        var owner = [Int?](repeating: nil, count: P * E)
        for p in parts {
            for item in p.results.shard!.items.map(Int.init) {
                if let o = owner[item] {
                    throw AnalysisError("cannot merge: item \(item) (\(itemName(item))) is in both \(parts[o].path) and \(p.path)")
                }
                owner[item] = parts.firstIndex { $0.path == p.path }
            }
            // A part holding a result it does not own was not written by this biasprobe.
            let own = Set(p.results.shard!.items.map(Int.init))
            if let stray = p.results.shard!.done.indices.first(where: { p.results.shard!.done[$0] != 0 && !own.contains($0) }) {
                throw AnalysisError("cannot merge: \(p.path) holds item \(stray) (\(itemName(stray))) that is not in its shard")
            }
        }
        return owner
    }

    /// Nothing missing: no shard without its part, no part with unfinished items.
    static func checkComplete(_ parts: [Part], byShard: [Int: Part], owner: [Int?]) throws {
        let s0 = parts[0].results.shard!, itemName = { describeItem(parts[0], $0) }
        var problems: [String] = []
        let absent = (1...s0.shard.count).filter { byShard[$0] == nil }
        if !absent.isEmpty {
            let orphans = owner.indices.filter { owner[$0] == nil }
            problems.append("no part for shard \(absent.map { "\($0)/\(s0.shard.count)" }.joined(separator: ", ")) (\(orphans.count) items: \(shortList(orphans.map(itemName))))")
        }
        for i in byShard.keys.sorted() {
            let p = byShard[i]!, info = p.results.shard!
            let missing = info.missing.map(Int.init)
            if !missing.isEmpty {
                problems.append("shard \(info.shard) (\(p.path)) is missing \(missing.count) of \(info.items.count) items: \(shortList(missing.map(itemName)))")
            }
        }
        if !problems.isEmpty {
            throw AnalysisError("incomplete: " + problems.joined(separator: "; ") + "; re-run those shards (the same command with --shard I/N), then merge again")
        }
    }

    /// The unsharded sweep's results: each item from its owner, the point counters summed over
    /// the parts that ran some of the point's items.
    static func join(_ parts: [Part], byShard: [Int: Part], owner: [Int?]) -> SweepResults {
        let first = parts[0], P = first.results.points.count, E = first.results.examples.count
        var out = SweepResults(settings: first.results.settings, model: first.results.model, axes: first.results.axes, examples: first.results.examples)
        out.modelSHA256 = first.results.modelSHA256
        out.mergedHosts = byShard.keys.sorted().map { byShard[$0]!.results.shard!.host }
        for pi in 0..<P {
            var r = first.results.points[pi]
            r.peakRSSBytes = 0; r.chunksPrefilled = 0; r.chunksReused = 0
            for ei in 0..<E {
                let src = parts[owner[pi * E + ei]!].results.points[pi]
                r.correct[ei] = src.correct[ei]
                r.answerNLL[ei] = src.answerNLL[ei]
                r.needleMass[ei] = src.needleMass[ei]
                r.needleKept[ei] = src.needleKept[ei]
                r.kvBytes[ei] = src.kvBytes[ei]
                r.seconds[ei] = src.seconds[ei]
            }
            // Point-level counters: each part counted only its own items of the point.
            let contributing = Set((0..<E).map { owner[pi * E + $0]! })
            for k in contributing.sorted() {
                let src = parts[k].results.points[pi]
                r.peakRSSBytes = max(r.peakRSSBytes, src.peakRSSBytes)
                r.chunksPrefilled += src.chunksPrefilled
                r.chunksReused += src.chunksReused
            }
            out.points.append(r)
        }
        return out
    }

    /// The first way part `b` differs from part `a` in what must match, or nil.
    public static func firstDifference(_ a: Part, _ b: Part) -> String? {
        let x = a.results, y = b.results, sx = x.shard!, sy = y.shard!
        if sx.shard.count != sy.shard.count {
            return "\(b.path) is a shard of \(sy.shard.count), \(a.path) of \(sx.shard.count)"
        }
        if x.modelSHA256 != y.modelSHA256 {
            return "\(b.path) has model sha256 \(y.modelSHA256.prefix(12))…, \(a.path) has \(x.modelSHA256.prefix(12))…"
        }
        if x.settings != y.settings {
            guard let u = try? JSONCoding.decode(SweepSettings.self, from: x.settings),
                  let v = try? JSONCoding.decode(SweepSettings.self, from: y.settings) else {
                return "\(b.path) has other settings than \(a.path)"
            }
            func grid(_ s: SweepSettings) -> String { s.axes.map { "\($0.parameter.rawValue)=\($0.values.map(\.text).joined(separator: ","))" }.joined(separator: " ") }
            func ex(_ s: SweepSettings) -> String { "\(s.examples.count) examples (tasks \(s.tasks.map(\.rawValue).joined(separator: ",")))" }
            if u.axes != v.axes { return "\(b.path) has grid \(grid(v)), \(a.path) has \(grid(u))" }
            if u.length != v.length { return "\(b.path) has length \(v.length), \(a.path) has \(u.length)" }
            if u.tasks != v.tasks || u.examples != v.examples { return "\(b.path) has \(ex(v)), \(a.path) has other examples: \(ex(u))" }
            if u.model != v.model { return "\(b.path) has model \(v.model ?? "?"), \(a.path) has \(u.model ?? "?")" }
            if u.base != v.base { return "\(b.path) has other pipeline options than \(a.path) (compare their settings attributes)" }
            return "\(b.path) has other settings than \(a.path)"
        }
        if sx.workList != sy.workList { return "\(b.path) has work list \(sy.workList.prefix(12))…, \(a.path) has \(sx.workList.prefix(12))…" }
        if x.points.map(\.label) != y.points.map(\.label) { return "\(b.path) has other grid points than \(a.path)" }
        return nil
    }
}
