import Foundation
import PCInference
import ProbeAnalysis

/// What one example at one grid point measured.
struct SweepItemResult {
    var correct: UInt8
    var answerNLL: Double
    var needleMass: Double
    var needleKept: UInt8
    var kvBytes: Double
    var seconds: Double
    var chunksPrefilled: Int64
    var chunksReused: Int64
}

extension SweepPointResult {
    /// Appends one example's measurements (an unsharded sweep fills a point example by example).
    mutating func add(_ o: SweepItemResult) {
        correct.append(o.correct); answerNLL.append(o.answerNLL); needleMass.append(o.needleMass)
        needleKept.append(o.needleKept); kvBytes.append(o.kvBytes); seconds.append(o.seconds)
        chunksPrefilled += o.chunksPrefilled; chunksReused += o.chunksReused
    }
}

/// `biasprobe sweep ... --shard I/N`: runs this shard's items of the work list into its part file.
///
/// The work list is every (grid point, example), point-major: item = point * examples + example.
/// A part has the shape of the whole sweep (every point, every example) with `results/done`
/// marking the items it holds, so merging is a cell-by-cell copy and a killed shard resumes
/// with the same command, like an unsharded sweep.
struct SweepShardJob {
    let command: Sweep
    let shard: Shard
    let axes: [SweepAxis]
    let points: [SweepPoint]
    let examples: [SweepExample]
    let settings: String
    let modelPath: String
    let costs: [Double]

    var labels: [String] { points.map { $0.label(axes: axes) } }
    /// Identity of the work list: the settings (axes, examples, base config, model path) and the
    /// points in order. Parts of one sweep must agree on it.
    var workList: String { SHA256Hasher.hex(settings + "\n" + labels.joined(separator: "\n")) }
    var path: String { shard.partPath(for: command.out) }

    func printPlan() throws {
        let assign = WorkPartition.assign(costs: costs, shards: shard.count)
        let E = examples.count
        let items = costs.indices.map {
            SweepPlan.Item(item: $0, point: labels[$0 / E], example: $0 % E, cost: costs[$0], shard: assign[$0] + 1)
        }
        try JSONOut.emit(SweepPlan(shards: shard.count, workListSHA256: workList, items: items, part: path))
    }

    func run(modelSHA256: String, measure: (Int, Int) throws -> SweepItemResult) throws {
        let P = points.count, E = examples.count
        let mine = WorkPartition.items(costs: costs, shards: shard.count, index: shard.index - 1).map(Int64.init)
        var res: SweepResults
        let fm = FileManager.default
        if fm.fileExists(atPath: path) && !command.restart {
            res = try SweepResults.read(path: path, allowPart: true)
            guard let info = res.shard, info.shard == shard, info.workList == workList, res.settings == settings, info.items == mine else {
                throw CLIError("\(path) holds another shard or sweep (settings, grid or shard count differ): pass --restart to overwrite it")
            }
            guard res.modelSHA256 == modelSHA256 else {
                throw CLIError("\(path) was computed with another model file (sha256 \(res.modelSHA256.prefix(12))…): pass --restart to overwrite it")
            }
            if !command.quiet { Log.info("resuming shard \(shard): \(mine.count - info.missing.count) of \(mine.count) items already in \(path)") }
        } else {
            res = SweepResults(settings: settings, model: modelPath, axes: axes, examples: examples)
            res.modelSHA256 = modelSHA256
            res.points = points.map { p in
                SweepPointResult(label: p.label(axes: axes), values: axes.map { p.values[$0.parameter]!.text },
                                 correct: .init(repeating: 0, count: E), answerNLL: .init(repeating: .nan, count: E),
                                 needleMass: .init(repeating: .nan, count: E), needleKept: .init(repeating: 0, count: E),
                                 seconds: .init(repeating: .nan, count: E), peakRSSBytes: 0, chunksPrefilled: 0, chunksReused: 0,
                                 kvBytes: .init(repeating: .nan, count: E))
            }
            res.shard = SweepShardInfo(shard: shard, workList: workList, items: mine, done: .init(repeating: 0, count: P * E), host: hostName)
        }
        res.shard!.host = hostName
        let folder = (path as NSString).deletingLastPathComponent
        try fm.createDirectory(atPath: folder.isEmpty ? "." : folder, withIntermediateDirectories: true)
        // Write at once, so `slurm status` sees a started shard and a resumed one keeps its host.
        try res.write(path: path)

        let todo = res.shard!.missing
        let bar = ProgressBar("shard \(shard)", total: todo.count, quiet: command.quiet)
        var done = 0
        let byPoint = Dictionary(grouping: todo) { Int($0) / E }
        for pi in byPoint.keys.sorted() {
            ProcessStats.resetPeak()
            for item in byPoint[pi]! {
                let ei = Int(item) % E
                let o: SweepItemResult
                do { o = try measure(pi, ei) }
                catch is CancellationError {
                    throw SweepInterrupted(saved: mine.count - res.shard!.missing.count, total: mine.count, path: path, unit: "items")
                }
                res.points[pi].correct[ei] = o.correct
                res.points[pi].answerNLL[ei] = o.answerNLL
                res.points[pi].needleMass[ei] = o.needleMass
                res.points[pi].needleKept[ei] = o.needleKept
                res.points[pi].kvBytes[ei] = o.kvBytes
                res.points[pi].seconds[ei] = o.seconds
                res.points[pi].chunksPrefilled += o.chunksPrefilled
                res.points[pi].chunksReused += o.chunksReused
                res.shard!.done[Int(item)] = 1
                done += 1
                bar.update(done, note: "\(labels[pi]) [\(examples[ei].task.rawValue) d=\(examples[ei].depth) s=\(examples[ei].seed)]")
            }
            res.points[pi].peakRSSBytes = max(res.points[pi].peakRSSBytes, Int64(ProcessStats.peakRSSSinceReset))
            try res.write(path: path)
        }
        bar.finish()
        if command.json {
            struct Done: Encodable {
                var shard: String, items: Int, file: String, workListSHA256: String
                enum CodingKeys: String, CodingKey { case shard, items, file, workListSHA256 = "work_list_sha256" }
            }
            try JSONOut.emit(Done(shard: shard.description, items: mine.count, file: path, workListSHA256: workList))
        } else {
            print("shard \(shard): \(mine.count) of \(P * E) items (\(P) points x \(E) examples) in \(path)")
            print("merge the \(shard.count) parts with: biasprobe sweep merge \(command.out) \(shard.partPath(for: command.out).replacingOccurrences(of: "part-\(shard.index)-of", with: "part-*-of"))")
        }
    }
}

/// `sweep --plan`: the work list and the shard each item goes to.
struct SweepPlan: Encodable {
    struct Item: Encodable { var item: Int, point: String, example: Int, cost: Double, shard: Int }
    var shards: Int, workListSHA256: String, items: [Item], part: String
    enum CodingKeys: String, CodingKey { case shards, workListSHA256 = "work_list_sha256", items, part }
}
