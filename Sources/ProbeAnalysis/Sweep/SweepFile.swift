import Foundation
import HDF5Bridge
import PCInference

/// One retrieval example of a sweep (the same list for every point).
public struct SweepExample: Codable, Equatable {
    public var task: RetrievalTask
    public var depth: Double
    public var seed: Int
    public init(task: RetrievalTask, depth: Double, seed: Int) {
        self.task = task; self.depth = depth; self.seed = seed
    }
}

/// What one grid point measured, example by example.
public struct SweepPointResult {
    public var label: String
    public var values: [String]          // one per axis, in axis order
    public var correct: [UInt8]          // per example
    public var answerNLL: [Double]
    public var needleMass: [Double]
    public var needleKept: [UInt8]
    public var seconds: [Double]
    public var peakRSSBytes: Int64
    public var chunksPrefilled: Int64
    public var chunksReused: Int64
    /// Stored KV bytes per example (float32, per layer and KV head the keys any query head still
    /// sees); NaN where unknown (files from before it was recorded).
    public var kvBytes: [Double] = []
    public init(label: String, values: [String], correct: [UInt8], answerNLL: [Double], needleMass: [Double], needleKept: [UInt8], seconds: [Double], peakRSSBytes: Int64, chunksPrefilled: Int64, chunksReused: Int64, kvBytes: [Double] = []) {
        self.label = label; self.values = values; self.correct = correct; self.answerNLL = answerNLL; self.needleMass = needleMass; self.needleKept = needleKept; self.seconds = seconds; self.peakRSSBytes = peakRSSBytes; self.chunksPrefilled = chunksPrefilled; self.chunksReused = chunksReused; self.kvBytes = kvBytes
    }

    /// Accuracy over the examples of one task (NaN when the sweep has none).
    public func accuracy(task: RetrievalTask, examples: [SweepExample]) -> Double {
        let idx = examples.indices.filter { examples[$0].task == task }
        guard !idx.isEmpty else { return .nan }
        return Double(idx.reduce(0) { $0 + Int(correct[$1]) }) / Double(idx.count)
    }
    public static func mean(_ v: [Double]) -> Double { let f = v.filter { $0.isFinite }; return f.isEmpty ? .nan : f.reduce(0, +) / Double(f.count) }
}

/// A sweep's results: settings, axes, examples, and the points finished so far.
/// Stored as one HDF5 file, rewritten atomically after every point, so an interrupted sweep
/// leaves the points it finished and nothing half-written.
public struct SweepResults {
    public static let format = "biasprobe-sweep"
    public static let version: Int64 = 2

    /// JSON of everything that must match for a resume (base config, tasks, length, examples, axes).
    public var settings: String
    public var model: String
    public var axes: [SweepAxis]
    public var examples: [SweepExample]
    public var points: [SweepPointResult] = []
    /// Hex SHA-256 of the model file ("" in files from before it was recorded).
    public var modelSHA256 = ""
    /// Set in a part written by `sweep --shard` (see SweepShardInfo).
    public var shard: SweepShardInfo? = nil
    /// The file's format version when read (1: written before the official ParallelComp
    /// defaults, whose stored settings lack the switches that now say which variant ran).
    public var formatVersion: Int64 = SweepResults.version
    /// Hosts of the parts a merged file came from (empty for an unsharded run).
    public var mergedHosts: [String] = []
    public init(settings: String, model: String, axes: [SweepAxis], examples: [SweepExample], points: [SweepPointResult] = [], modelSHA256: String = "", shard: SweepShardInfo? = nil, formatVersion: Int64 = SweepResults.version, mergedHosts: [String] = []) {
        self.settings = settings; self.model = model; self.axes = axes; self.examples = examples; self.points = points; self.modelSHA256 = modelSHA256; self.shard = shard; self.formatVersion = formatVersion; self.mergedHosts = mergedHosts
    }

    /// A point's value of a metric.
    public func metric(_ m: SweepMetric, _ p: SweepPointResult) -> Double {
        switch m {
        case .accuracy: return SweepPointResult.mean(SweepMetric.taskAccuracies.map { metric($0, p) })
        case .taskAccuracy(let task): return p.accuracy(task: task, examples: examples)
        case .pplNLL: return SweepPointResult.mean(examples.indices.filter { examples[$0].task == .ppl }.map { p.answerNLL[$0] })
        case .answerNLL: return SweepPointResult.mean(p.answerNLL)
        case .needleMass: return SweepPointResult.mean(p.needleMass)
        case .needleKept: return SweepPointResult.mean(p.needleKept.map(Double.init))
        case .kvBytes: return SweepPointResult.mean(p.kvBytes)
        case .seconds: return p.seconds.reduce(0, +)
        case .peakRSSGB: return Double(p.peakRSSBytes) / 1e9
        }
    }

    public func write(path: String) throws {
        _ = try? H5File.removeStaleTemporaryFiles(for: path)
        let file = try H5File.createAtomic(path: path)
        do {
            let P = points.count, E = examples.count
            try file.setAttribute("format", Self.format)
            try file.setAttribute("format_version", Self.version)
            try file.setAttribute("settings", settings)
            try file.setAttribute("model", model)
            try file.setAttribute("parameters", axes.map(\.parameter.rawValue))
            if !modelSHA256.isEmpty { try file.setAttribute("model_sha256", modelSHA256) }
            // Merged files say where their parts ran; everything else is what one run writes.
            if !mergedHosts.isEmpty {
                try file.setAttribute("merged_parts", Int64(mergedHosts.count))
                try file.setAttribute("merged_hosts", mergedHosts)
            }
            // Dimension scales in the root group, attached to every dataset, so xarray
            // (netCDF-4) opens each group with named dimensions.
            let point = try file.writeDimensionScale("point", (0..<P).map(Int64.init))
            let example = try file.writeDimensionScale("example", (0..<E).map(Int64.init))
            func put<T: H5Element>(_ name: String, _ values: [T], perExample: Bool = false, perPoint: Bool = false) throws {
                let dims = perPoint && perExample ? ["point", "example"] : perPoint ? ["point"] : ["example"]
                let shape = perPoint && perExample ? [P, E] : [values.count]
                let ds = try file.writeDataset(name, values, shape: shape, dims: dims)
                for (i, d) in dims.enumerated() { try ds.attachScale(d == "point" ? point : example, dimension: i) }
            }
            try put("examples/task", examples.map(\.task.rawValue), perExample: true)
            try put("examples/depth", examples.map(\.depth), perExample: true)
            try put("examples/seed", examples.map { Int64($0.seed) }, perExample: true)
            try put("points/label", points.map(\.label), perPoint: true)
            for (i, a) in axes.enumerated() {
                try put("points/\(a.parameter.rawValue)", points.map { $0.values[i] }, perPoint: true)
            }
            // A part holds only some examples of each point: its aggregates would mislead, so
            // only merge computes them.
            if shard == nil { for m in SweepMetric.stored { try put("points/\(m.name)", points.map { metric(m, $0) }, perPoint: true) } }
            try put("points/peak_rss_bytes", points.map(\.peakRSSBytes), perPoint: true)
            try put("points/chunks_prefilled", points.map(\.chunksPrefilled), perPoint: true)
            try put("points/chunks_reused", points.map(\.chunksReused), perPoint: true)
            try put("results/correct", points.flatMap(\.correct), perExample: true, perPoint: true)
            try put("results/answer_nll", points.flatMap(\.answerNLL), perExample: true, perPoint: true)
            try put("results/needle_mass", points.flatMap(\.needleMass), perExample: true, perPoint: true)
            try put("results/needle_kept", points.flatMap(\.needleKept), perExample: true, perPoint: true)
            try put("results/seconds", points.flatMap(\.seconds), perExample: true, perPoint: true)
            try put("results/kv_bytes", points.flatMap { p in p.kvBytes.count == E ? p.kvBytes : Array(repeating: .nan, count: E) },
                    perExample: true, perPoint: true)
            if let shard {
                try file.setAttribute("shard", shard.shard.description)
                try file.setAttribute("shard_index", Int64(shard.shard.index))
                try file.setAttribute("shard_count", Int64(shard.shard.count))
                try file.setAttribute("work_list_sha256", shard.workList)
                try file.setAttribute("host", shard.host)
                try file.setAttribute("shard_complete", Int64(shard.isComplete ? 1 : 0))
                try put("results/done", shard.done, perExample: true, perPoint: true)
                let item = try file.writeDimensionScale("item", (0..<shard.items.count).map(Int64.init))
                let ds = try file.writeDataset("shard/items", shard.items, shape: [shard.items.count], dims: ["item"])
                try ds.attachScale(item, dimension: 0)
            }
            try file.setAttribute("complete", 1)
            try file.commit()
        } catch {
            file.abandon()
            throw AnalysisError("cannot write \(path): \(error)")
        }
    }

    /// Reads a sweep file. Unless `isolated` is false, the file is first read in a child process
    /// (`biasprobe check-trace --sweep`), as traces are: libhdf5 can crash on a damaged file.
    /// A part of a sharded sweep is refused unless `allowPart` (only merge and resume read parts).
    public static func read(path: String, isolated: Bool = true, allowPart: Bool = false) throws -> SweepResults {
        guard FileManager.default.fileExists(atPath: path) else { throw AnalysisError("sweep file not found: \(path) (run biasprobe sweep first)") }
        if isolated { try TraceReader.checkInChildProcess(path, sweep: true) }
        let file: H5File
        do { file = try H5File.open(path: path, readOnly: true) } catch { throw AnalysisError("\(path) is not a biasprobe sweep (not an HDF5 file)") }
        guard (try? file.attribute("format").stringValue) == format else { throw AnalysisError("\(path) is an HDF5 file but not a biasprobe sweep") }
        let v = (try? file.attribute("format_version").intValue) ?? 0
        // Version 1 had no dimension scales; its datasets are the same.
        guard (1...version).contains(v) else { throw AnalysisError("\(path) has sweep format version \(v); this biasprobe reads versions 1...\(version)") }
        do {
            guard let settings = try file.attribute("settings").stringValue, let names = try file.attribute("parameters").stringsValue,
                  let axes = try? JSONCoding.decode(SweepSettings.self, from: settings).axes
            else { throw AnalysisError("\(path): sweep settings are missing or damaged") }
            guard axes.map(\.parameter.rawValue) == names else { throw AnalysisError("\(path): parameter list does not match its settings") }
            let tasks = try file.readDataset("examples/task", as: String.self).values
            let depths = try file.readDataset("examples/depth", as: Double.self).values
            let seeds = try file.readDataset("examples/seed", as: Int64.self).values
            guard tasks.count == depths.count, tasks.count == seeds.count else { throw AnalysisError("\(path): example lists differ in length") }
            let examples = try (0..<tasks.count).map { i in
                guard let task = RetrievalTask(rawValue: tasks[i]) else { throw AnalysisError("\(path): example \(i) has an unknown task '\(tasks[i])'") }
                return SweepExample(task: task, depth: depths[i], seed: Int(seeds[i]))
            }
            let labels = try file.readDataset("points/label", as: String.self).values
            let P = labels.count, E = examples.count
            let cols = try axes.map { try file.readDataset("points/\($0.parameter.rawValue)", as: String.self).values }
            func table<T: H5Element>(_ name: String, _ t: T.Type) throws -> [T] {
                let (v, shape) = try file.readDataset(name, as: T.self)
                guard v.count == P * E, shape == [P, E] || P * E == 0 else { throw AnalysisError("\(path): \(name) has shape \(shape), expected [\(P), \(E)]") }
                return v
            }
            let correct = try table("results/correct", UInt8.self), nll = try table("results/answer_nll", Double.self)
            let mass = try table("results/needle_mass", Double.self), kept = try table("results/needle_kept", UInt8.self)
            let secs = try table("results/seconds", Double.self)
            let kvb = (try? table("results/kv_bytes", Double.self)) ?? Array(repeating: .nan, count: P * E)
            let rss = try file.readDataset("points/peak_rss_bytes", as: Int64.self).values
            let pre = try file.readDataset("points/chunks_prefilled", as: Int64.self).values
            let reu = try file.readDataset("points/chunks_reused", as: Int64.self).values
            guard cols.allSatisfy({ $0.count == P }), rss.count == P, pre.count == P, reu.count == P else { throw AnalysisError("\(path): point lists differ in length") }
            var out = SweepResults(settings: settings, model: (try? file.attribute("model").stringValue) ?? "", axes: axes, examples: examples)
            out.formatVersion = v
            out.modelSHA256 = (try? file.attribute("model_sha256").stringValue) ?? ""
            out.mergedHosts = (try? file.attribute("merged_hosts").stringsValue) ?? []
            if let s = try? file.attribute("shard").stringValue {
                guard let shard = Shard(argument: s) else { throw AnalysisError("\(path): shard '\(s)' is not I/N") }
                guard allowPart else {
                    throw AnalysisError("\(path) is part \(shard) of a sharded sweep: merge the parts first (biasprobe sweep merge OUT PART...)")
                }
                let items = try file.readDataset("shard/items", as: Int64.self).values
                let done = try table("results/done", UInt8.self)
                guard items.allSatisfy({ (0..<Int64(P * E)).contains($0) }) else { throw AnalysisError("\(path): shard item out of range") }
                out.shard = SweepShardInfo(shard: shard, workList: (try? file.attribute("work_list_sha256").stringValue) ?? "",
                                           items: items, done: done, host: (try? file.attribute("host").stringValue) ?? "")
            }
            for p in 0..<P {
                let r = (p * E)..<((p + 1) * E)
                out.points.append(SweepPointResult(label: labels[p], values: cols.map { $0[p] }, correct: Array(correct[r]), answerNLL: Array(nll[r]),
                                                   needleMass: Array(mass[r]), needleKept: Array(kept[r]), seconds: Array(secs[r]),
                                                   peakRSSBytes: rss[p], chunksPrefilled: pre[p], chunksReused: reu[p], kvBytes: Array(kvb[r])))
            }
            return out
        } catch let e as AnalysisError { throw e } catch { throw AnalysisError("cannot read sweep \(path): \(error)") }
    }
}

/// What a part written by `sweep --shard I/N` adds: its shard, the identity of the work list it
/// was cut from, the items (point * examples + example) it owns, and which it has finished.
public struct SweepShardInfo {
    public var shard: Shard
    public var workList: String
    public var items: [Int64]
    public var done: [UInt8]          // points x examples, 1 where this part holds a result
    public var host: String
    public init(shard: Shard, workList: String, items: [Int64], done: [UInt8], host: String) {
        self.shard = shard; self.workList = workList; self.items = items; self.done = done; self.host = host
    }
    public var missing: [Int64] { items.filter { done[Int($0)] == 0 } }
    public var isComplete: Bool { missing.isEmpty }
}

/// The settings a sweep was started with (stored as JSON; a resume must match them).
public struct SweepSettings: Codable, Equatable {
    public var axes: [SweepAxis]
    public var tasks: [RetrievalTask]
    public var length: Int
    public var examples: [SweepExample]
    public var base: ParallelCompConfig
    /// The model file (absent in files from before it was recorded).
    public var model: String? = nil
    public init(axes: [SweepAxis], tasks: [RetrievalTask], length: Int, examples: [SweepExample], base: ParallelCompConfig, model: String? = nil) {
        self.axes = axes; self.tasks = tasks; self.length = length; self.examples = examples; self.base = base; self.model = model
    }
}
