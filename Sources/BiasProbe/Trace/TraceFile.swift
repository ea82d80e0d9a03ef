import Foundation
import HDF5Bridge
import PCInference


enum TraceWriter {
    /// Scores below this are stored as 0 (they cannot be outliers for any useful lambda).
    static let keyScoreFloor: Float = 1e-4

    /// Key scores span many orders of magnitude and barely compress as float32. Values below the
    /// floor become 0 and the rest keep 11 significant bits (relative error at most 5e-4), which
    /// makes them compress about 7x: a 128K trace stays a few MB.
    static func compactKeyScores(_ v: [Float]) -> [Float] {
        v.map { x in
            guard x >= keyScoreFloor else { return 0 }
            let b = (x.bitPattern &+ (1 << 12)) & ~UInt32((1 << 13) - 1)
            return Float(bitPattern: b)
        }
    }

    /// Writes a complete trace atomically: a temporary file renamed into place at the end.
    static func write(path: String, attributes: [String: H5AttributeValue], result: ParallelCompPipeline.Result,
                      arrays: [(String, [Float], [Int])], layers L: Int, heads H: Int, chunks C: Int, bins B: Int) throws {
        _ = try? H5File.removeStaleTemporaryFiles(for: path)
        let file = try H5File.createAtomic(path: path)
        do {
            for (k, v) in attributes.sorted(by: { $0.key < $1.key }) { try file.setAttribute(k, v) }
            try file.setAttribute("complete", 0)
            try file.setAttribute("key_scores_floor", Double(keyScoreFloor))
            // Axes first, so datasets can attach them.
            let keyCount = arrays.first { $0.0 == "global/key_scores" }?.2.last ?? 0
            var scales: [String: H5Dataset] = [:]
            scales["layer"] = try file.writeDimensionScale("axes/layer", (0..<L).map(Int64.init), name: "layer")
            scales["head"] = try file.writeDimensionScale("axes/head", (0..<H).map(Int64.init), name: "head")
            scales["chunk"] = try file.writeDimensionScale("axes/chunk", (0..<C).map(Int64.init), name: "chunk")
            scales["band"] = try file.writeDimensionScale("axes/band", TraceSchema.bands, name: "band")
            scales["bin"] = try file.writeDimensionScale("axes/bin", (0..<B).map(Int64.init), name: "bin")
            scales["key"] = try file.writeDimensionScale("axes/key", (0..<keyCount).map(Int64.init), name: "key")
            func put<T: H5Element>(_ name: String, _ values: [T], _ shape: [Int]) throws {
                guard let e = TraceSchema.entry(name) else { preconditionFailure("\(name) is not in TraceSchema") }
                let big = values.count > 1 << 16
                let ds = try file.writeDataset(name, values, shape: shape,
                                               options: big ? .compressed(level: 1) : .contiguous, dims: e.dims)
                for (i, d) in e.dims.enumerated() {
                    if let s = scales[d], (try? s.shape()) == [shape[i]] { try ds.attachScale(s, dimension: i) }
                }
            }
            let r = result
            try put("input/chunk_start", r.chunks.map { Int64($0.documentTokens?.lowerBound ?? -1) }, [C])
            try put("input/chunk_length", r.chunks.map { Int64($0.contextLength) }, [C])
            try put("input/chunk_nll", r.chunks.map { $0.nll ?? .nan }, [C])
            try put("input/chunk_kept", r.chunks.map { UInt8($0.kept ? 1 : 0) }, [C])
            try put("input/combined_span", r.combinedSpans.flatMap { [Int64($0.lowerBound), Int64($0.upperBound)] }, [r.combinedSpans.count, 2])
            try put("input/question_ids", r.questionIDs.map(Int64.init), [r.questionIDs.count])
            try put("input/answer_ids", r.answerIDs.map(Int64.init), [r.answerIDs.count])
            for (name, values, shape) in arrays {
                try put(name, name == "global/key_scores" ? compactKeyScores(values) : values, shape)
            }
            let ev = r.evictions
            try put("eviction/calibration_query", ev.calibrationQuery.map(Int64.init), [L, H])
            try put("eviction/calibration_chunk", ev.calibrationChunk.map(Int64.init), [L, H])
            try put("eviction/outliers_query", ev.outliersQuery.map(Int64.init), [L, H])
            try put("eviction/outliers_chunk", ev.outliersChunk.map(Int64.init), [L, H])
            try put("eviction/compression", ev.compression.map(Int64.init), [L, H])
            try file.setAttribute("complete", 1)
            try file.commit()
        } catch {
            file.abandon()
            throw error
        }
    }
}

/// Opens a trace for reading, refusing files that are not biasprobe traces or are too new.
final class TraceReader {
    let path: String
    let file: H5File

    init(path: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else { throw CLIError("trace not found: \(path) (run biasprobe trace first, or pass --trace FILE)") }
        do { file = try H5File.open(path: path, readOnly: true) }
        catch { throw CLIError("\(path) is not a biasprobe trace (not an HDF5 file)") }
        guard (try? file.hasAttribute("format")) == true, (try? file.attribute("format").stringValue) == TraceSchema.format else {
            throw CLIError("\(path) is an HDF5 file but not a biasprobe trace (no format attribute)")
        }
        let v = Int((try? file.attribute("format_version").intValue) ?? 0)
        guard v >= 1, v <= TraceSchema.version else {
            throw CLIError("\(path) has trace format version \(v); this biasprobe reads versions 1...\(TraceSchema.version)")
        }
        guard (try? file.attribute("complete").intValue) == 1 else { throw CLIError("\(path) is an incomplete trace") }
    }

    func int(_ name: String) throws -> Int {
        guard let v = try? file.attribute(name).intValue else { throw CLIError("\(path): attribute \(name) is missing") }
        return Int(v)
    }
    func string(_ name: String) -> String { (try? file.attribute(name).stringValue) ?? "" }

    /// A float32 dataset by its stable name, with its shape.
    func floats(_ name: String) throws -> ([Float], [Int]) {
        guard (try? file.exists(name)) == true else { throw CLIError("\(path) has no dataset \(name)") }
        do { return try file.readDataset(name, as: Float.self) }
        catch { throw CLIError("\(path): cannot read \(name): \(error)") }
    }
    func doubles(_ name: String) throws -> [Double] {
        guard (try? file.exists(name)) == true else { throw CLIError("\(path) has no dataset \(name)") }
        do { return try file.readDataset(name, as: Double.self).values } catch { throw CLIError("\(path): cannot read \(name): \(error)") }
    }
    func ints(_ name: String) throws -> [Int64] {
        guard (try? file.exists(name)) == true else { throw CLIError("\(path) has no dataset \(name)") }
        do { return try file.readDataset(name, as: Int64.self).values } catch { throw CLIError("\(path): cannot read \(name): \(error)") }
    }
    func bytes(_ name: String) throws -> [UInt8] {
        guard (try? file.exists(name)) == true else { throw CLIError("\(path) has no dataset \(name)") }
        do { return try file.readDataset(name, as: UInt8.self).values } catch { throw CLIError("\(path): cannot read \(name): \(error)") }
    }
}
