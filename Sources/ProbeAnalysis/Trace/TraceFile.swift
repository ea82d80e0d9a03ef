import Foundation
import HDF5Bridge
import PCInference


public enum TraceWriter {
    /// Scores below this are stored as 0 (they cannot be outliers for any useful lambda).
    public static let keyScoreFloor: Float = 1e-4

    /// Key scores span many orders of magnitude and barely compress as float32. Values below the
    /// floor become 0 and the rest keep 11 significant bits (relative error at most 5e-4), which
    /// makes them compress about 7x: a 128K trace stays a few MB.
    public static func compactKeyScores(_ v: [Float]) -> [Float] {
        v.map { x in
            guard x >= keyScoreFloor else { return 0 }
            let b = (x.bitPattern &+ (1 << 12)) & ~UInt32((1 << 13) - 1)
            return Float(bitPattern: b)
        }
    }

    /// Writes a complete trace into `file` (made by `H5File.createAtomic` when the command
    /// started) and renames it into place; on any failure the temporary file is removed.
    public static func write(file: H5File, attributes: [String: H5AttributeValue], result r: ParallelCompPipeline.Result,
                      arrays: [(String, [Float], [Int])], document: DocumentMap?, layers L: Int, heads H: Int, chunks C: Int, bins B: Int) throws {
        let path = file.filePath
        do {
            for (k, v) in attributes.sorted(by: { $0.key < $1.key }) { try file.setAttribute(k, v) }
            try file.setAttribute("complete", 0)
            try file.setAttribute("key_scores_floor", Double(keyScoreFloor))
            let keyCount = arrays.first { $0.0 == "global/key_scores" }?.2.last ?? 0
            var out = try Datasets(file: file, result: r, layers: L, heads: H, chunks: C, bins: B, keys: keyCount)
            try out.putInput(r)
            if let d = document { try out.putDocument(d, r) }
            for (name, values, shape) in arrays {
                try out.put(name, name == "global/key_scores" ? compactKeyScores(values) : values, shape)
            }
            try out.putEvictions(r)
            try file.setAttribute("complete", 1)
            try file.commit()
        } catch {
            file.abandon()
            throw AnalysisError("cannot write \(path): \(error)")
        }
    }

    /// A trace's datasets being written, with the axes (dimension scales) they attach.
    struct Datasets {
        let file: H5File
        let L: Int, H: Int, C: Int
        var scales: [String: H5Dataset] = [:]

        /// Axes first, so datasets can attach them. They live in the root group: a netCDF reader
        /// looks for a variable's dimensions in its own group and its ancestors.
        init(file: H5File, result r: ParallelCompPipeline.Result, layers L: Int, heads H: Int, chunks C: Int, bins B: Int, keys: Int) throws {
            self.file = file; self.L = L; self.H = H; self.C = C
            scales["layer"] = try file.writeDimensionScale("layer", (0..<L).map(Int64.init))
            scales["head"] = try file.writeDimensionScale("head", (0..<H).map(Int64.init))
            scales["chunk"] = try file.writeDimensionScale("chunk", (0..<C).map(Int64.init))
            scales["band"] = try file.writeDimensionScale("band", TraceSchema.bands)
            scales["policy_band"] = try file.writeDimensionScale("policy_band", TraceSchema.policyBands)
            scales["bin"] = try file.writeDimensionScale("bin", (0..<B).map(Int64.init))
            scales["key"] = try file.writeDimensionScale("key", (0..<keys).map(Int64.init))
            scales["kept"] = try file.writeDimensionScale("kept", r.keptChunkIDs.map(Int64.init))
            scales["edge"] = try file.writeDimensionScale("edge", ["start", "end"])
            scales["question_token"] = try file.writeDimensionScale("question_token", (0..<r.questionIDs.count).map(Int64.init))
            scales["answer_token"] = try file.writeDimensionScale("answer_token", (0..<r.answerIDs.count).map(Int64.init))
        }

        /// One dataset of the schema, compressed when large, with its axes attached.
        func put<T: H5Element>(_ name: String, _ values: [T], _ shape: [Int]) throws {
            guard let e = TraceSchema.entry(name) else { preconditionFailure("\(name) is not in TraceSchema") }
            let big = values.count > 1 << 16
            let ds = try file.writeDataset(name, values, shape: shape,
                                           options: big ? .compressed(level: 1) : .contiguous, dims: e.dims)
            for (i, d) in e.dims.enumerated() {
                if let s = scales[d], (try? s.shape()) == [shape[i]] { try ds.attachScale(s, dimension: i) }
            }
        }

        func putInput(_ r: ParallelCompPipeline.Result) throws {
            try put("input/chunk_start", r.chunks.map { Int64($0.documentTokens?.lowerBound ?? -1) }, [C])
            try put("input/chunk_length", r.chunks.map { Int64($0.contextLength) }, [C])
            try put("input/chunk_nll", r.chunks.map { $0.nll ?? .nan }, [C])
            try put("input/chunk_kept", r.chunks.map { UInt8($0.kept ? 1 : 0) }, [C])
            try put("input/combined_span", r.combinedSpans.flatMap { [Int64($0.lowerBound), Int64($0.upperBound)] }, [r.combinedSpans.count, 2])
            try put("input/question_ids", r.questionIDs.map(Int64.init), [r.questionIDs.count])
            try put("input/answer_ids", r.answerIDs.map(Int64.init), [r.answerIDs.count])
        }

        /// The document itself, so every key maps back to its text (see DocumentMap).
        mutating func putDocument(_ d: DocumentMap, _ r: ParallelCompPipeline.Result) throws {
            scales["document_token"] = try file.writeDimensionScale("document_token", (0..<d.ids.count).map(Int64.init))
            try put("input/document_ids", d.ids.map(Int64.init), [d.ids.count])
            try put("input/token_char_start", d.tokenCharStart.map(Int64.init), [d.ids.count])
            try file.setAttribute("document_text", .string(d.text))
            try put("input/chunk_token_span", r.chunks.flatMap { ch in ch.documentTokens.map { [Int64($0.lowerBound), Int64($0.upperBound)] } ?? [-1, -1] }, [C, 2])
            try put("input/chunk_char_span", r.chunks.flatMap { ch in
                (ch.documentCharacters ?? ch.documentTokens.map { d.charSpan($0) }).map { [Int64($0.lowerBound), Int64($0.upperBound)] } ?? [-1, -1]
            }, [C, 2])
            let chars = d.chunkTokenChars(r.chunks, tokenizer: d.tokenizer)
            scales["chunk_token"] = try file.writeDimensionScale("chunk_token", (0..<chars.count).map(Int64.init))
            try put("input/chunk_token_char", chars.map(Int64.init), [chars.count])
        }

        /// Keys evicted per (layer, head) by each mechanism, and the lab's band log.
        func putEvictions(_ r: ParallelCompPipeline.Result) throws {
            let ev = r.evictions
            try put("eviction/calibration_query", ev.calibrationQuery.map(Int64.init), [L, H])
            try put("eviction/calibration_chunk", ev.calibrationChunk.map(Int64.init), [L, H])
            try put("eviction/outliers_query", ev.outliersQuery.map(Int64.init), [L, H])
            try put("eviction/outliers_chunk", ev.outliersChunk.map(Int64.init), [L, H])
            try put("eviction/compression", ev.compression.map(Int64.init), [L, H])
            try put("eviction/stage_compression", ev.stageCompression.map(Int64.init), [L, H])
            try put("eviction/decode", ev.decode.map(Int64.init), [L, H])
            // The lab's band log, [chunk, band, layer, head] in memory, [layer, head, chunk, band] on disk.
            let PB = TraceSchema.policyBands.count
            let bl = r.policyBands
            try put("eviction/policy_keys", (0..<(C * PB)).map { Int64(bl?.keys[$0] ?? -1) }, [C, PB])
            let (L, H, C) = (L, H, C), mem = Shape(C, PB, L, H)
            func layerFirst<T>(_ v: (Int) -> T) -> [T] {
                var out: [T] = []
                out.reserveCapacity(L * H * C * PB)
                for l in 0..<L { for h in 0..<H { for c in 0..<C { for b in 0..<PB { out.append(v(mem(c, b, l, h))) } } } }
                return out
            }
            try put("eviction/policy_kept", layerFirst { Int64(bl?.kept[$0] ?? 0) }, [L, H, C, PB])
            try put("eviction/policy_mass", layerFirst { bl?.mass[$0] ?? .nan }, [L, H, C, PB])
            try put("eviction/policy_band_mass", layerFirst { bl?.bandMass[$0] ?? .nan }, [L, H, C, PB])
        }
    }
}

/// Opens a trace for reading, refusing files that are not biasprobe traces or are too new.
///
/// libhdf5 does not survive every damaged file: fuzzing found inputs that crash it (e.g. in its
/// global heap, where variable-length strings live and which no checksum covers) or make it
/// loop. So, unless `isolated` is false, the trace is first read in full by a child process
/// (`biasprobe check-trace`, see `readEverything`): if libhdf5 crashes or hangs there, this
/// process reports the file as damaged instead of crashing with it.
public final class TraceReader {
    public let path: String
    public let file: H5File

    public init(path: String, isolated: Bool = true) throws {
        self.path = path
        switch InputFile.kind(path) {
        case .regular: break
        case .missing: throw AnalysisError("trace not found: \(path) (run biasprobe trace first)")
        case let k: throw AnalysisError("\(path) is \(k.phrase), not a trace file")
        }
        if isolated { try Self.checkInChildProcess(path) }
        do { file = try H5File.open(path: path, readOnly: true) }
        catch { throw AnalysisError("\(path) is not a biasprobe trace (\(HDF5Damage.describe(path)))") }
        guard (try? file.hasAttribute("format")) == true, (try? file.attribute("format").stringValue) == TraceSchema.format else {
            throw AnalysisError("\(path) is an HDF5 file but not a biasprobe trace (no format attribute)")
        }
        let v = Int((try? file.attribute("format_version").intValue) ?? 0)
        guard v >= TraceSchema.oldestReadableVersion, v <= TraceSchema.version else {
            throw AnalysisError("\(path) has trace format version \(v); this biasprobe reads versions \(TraceSchema.oldestReadableVersion)...\(TraceSchema.version)")
        }
        guard (try? file.attribute("complete").intValue) == 1 else { throw AnalysisError("\(path) is an incomplete trace") }
    }

    public func int(_ name: String) throws -> Int {
        guard let v = try? file.attribute(name).intValue else {
            let present = (try? file.hasAttribute(name)) == true
            throw AnalysisError("\(path): attribute \(name) " + (present ? "has the wrong type (expected an integer)" : "is missing"))
        }
        return Int(v)
    }
    /// An integer attribute that sizes datasets, refused outside `range`.
    public func int(_ name: String, in range: ClosedRange<Int>) throws -> Int {
        let v = try int(name)
        guard range.contains(v) else { throw AnalysisError("\(path): attribute \(name) = \(v) is out of range \(range)") }
        return v
    }
    public func string(_ name: String) -> String { (try? file.attribute(name).stringValue) ?? "" }

    /// A float32 dataset by its stable name, with its shape.
    public func floats(_ name: String) throws -> ([Float], [Int]) { try read(name, as: Float.self) }
    public func doubles(_ name: String) throws -> [Double] { try read(name, as: Double.self).values }
    public func ints(_ name: String) throws -> [Int64] { try read(name, as: Int64.self).values }
    public func bytes(_ name: String) throws -> [UInt8] { try read(name, as: UInt8.self).values }

    /// Most values one dataset may claim, and most bytes in memory per byte stored in the file:
    /// deflate never compresses better than about 1032:1, so a dataset claiming more than that
    /// was never written (a damaged or hostile file), and reading it would only allocate.
    public static let maxElements = 1 << 31
    public static let maxExpansion = 1100

    /// Reads a dataset after checking, before anything is allocated, that its shape is the one
    /// the schema and this trace's attributes give and that its data is really in the file.
    /// A damaged or hostile trace gives a one-line error, never a crash or a huge allocation.
    public func read<T: H5Element>(_ name: String, as type: T.Type) throws -> (values: [T], shape: [Int]) {
        guard (try? file.exists(name)) == true else { throw AnalysisError("\(path) has no dataset \(name)") }
        let dataset: H5Dataset, shape: [Int], stored: Int
        do {
            dataset = try file.openDataset(name)
            shape = try dataset.shape()
            stored = try dataset.storageSize()
        } catch { throw AnalysisError("\(path): cannot read \(name): \(error)") }
        if let expected = try expectedShape(name) {
            let fits = shape.count == expected.count && zip(shape, expected).allSatisfy { $1 == nil || $0 == $1 }
            guard fits else {
                let wanted = expected.map { $0.map(String.init) ?? "n" }.joined(separator: ", ")
                throw AnalysisError("\(path): \(name) has shape \(shape), expected [\(wanted)]")
            }
        }
        var count = 1
        for d in shape {
            let (m, overflow) = count.multipliedReportingOverflow(by: d)
            guard d >= 0, !overflow, m <= Self.maxElements else { throw AnalysisError("\(path): \(name) has impossible shape \(shape)") }
            count = m
        }
        let fileBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? Int.max
        guard count * MemoryLayout<T>.stride <= min(stored, fileBytes) * Self.maxExpansion + 4096 else {
            throw AnalysisError("\(path): \(name) claims \(count) values but only \(stored) bytes of it are in the file")
        }
        do { return try dataset.read(as: type) } catch { throw AnalysisError("\(path): cannot read \(name): \(error)") }
    }

    /// The shape the schema gives `name`, with the sizes this trace's attributes set; nil entries
    /// are sizes the schema leaves free (keys, kept chunks, question and answer tokens). Nil for a
    /// name outside the schema.
    public func expectedShape(_ name: String) throws -> [Int?]? {
        guard let entry = TraceSchema.entry(name) else { return nil }
        return try entry.dims.map { dim -> Int? in
            switch dim {
            case "layer": return try int("layers", in: 1...1 << 12)
            case "head": return try int("heads", in: 1...1 << 12)
            case "chunk": return try int("chunks", in: 1...1 << 20)
            case "bin": return try int("bins", in: 1...1 << 16)
            case "band": return TraceSchema.bands.count
            case "edge": return 2
            default: return nil
            }
        }
    }
}

extension TraceReader {
    /// Reads every attribute and every dataset of the schema, as `biasprobe check-trace` does in
    /// the child process. Throws the first problem found (a refused file, a bad shape).
    public func readEverything() throws {
        _ = try TraceSummary(self)
        for e in TraceSchema.entries where (try? file.exists(e.name)) == true {
            switch e.type {
            case "float32": _ = try floats(e.name)
            case "float64": _ = try doubles(e.name)
            case "uint8": _ = try bytes(e.name)
            default: _ = try ints(e.name)
            }
        }
        for (name, _) in TraceSchema.rootAttributes { _ = string(name); _ = try? int(name) }
    }

    /// Runs `biasprobe check-trace PATH` (this executable) and turns a crash, a hang or a refusal
    /// there into a one-line error here.
    /// Base seconds a child's check may take before it counts as a hang (plus time for size).
    nonisolated(unsafe) public static var childCheckSeconds: Double = 30

    public static func checkInChildProcess(_ path: String, sweep: Bool = false) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: SelfExecutable.path)
        p.arguments = ["check-trace", path] + (sweep ? ["--sweep"] : [])
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        do { try p.run() } catch { return }  // Cannot start a child: read in this process as before.
        // Reading is fast (a 2 MB trace takes well under a second); a big trace gets more time.
        // `childCheckSeconds` is the base allowance (the program sets it; tests use a short one).
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let deadline = Date().addingTimeInterval(childCheckSeconds + Double(size) / 20e6)
        let pid = p.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + deadline.timeIntervalSinceNow, execute: watchdog)
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        watchdog.cancel()
        switch (p.terminationReason, p.terminationStatus) {
        case (.exit, 0): return
        case (.exit, let status):
            // check-trace reports a refused file as "Error: ..."; anything else is a crash that a
            // runtime turned into an exit status (ThreadSanitizer exits 66 on SIGSEGV, say).
            let line = message.split(separator: "\n").first.map(String.init) ?? ""
            guard line.hasPrefix("Error: ") else {
                throw AnalysisError("\(path) is damaged: libhdf5 crashed reading it (exit status \(status))")
            }
            throw AnalysisError(String(line.dropFirst(7)))
        case (.uncaughtSignal, SIGKILL) where Date() >= deadline:
            throw AnalysisError("\(path) is damaged: libhdf5 did not finish reading it")
        case (.uncaughtSignal, let sig):
            throw AnalysisError("\(path) is damaged: libhdf5 crashed reading it (signal \(sig))")
        @unknown default:
            throw AnalysisError("\(path) cannot be read")
        }
    }
}

/// Why a file that should be HDF5 cannot be opened: not HDF5 at all, or cut short (the
/// superblock records the file's end address, so a truncated copy is recognised as such).
public enum HDF5Damage {
    public static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    public static func describe(_ path: String) -> String {
        guard let h = FileHandle(forReadingAtPath: path) else { return "cannot be read" }
        defer { try? h.close() }
        let head = [UInt8]((try? h.read(upToCount: 64)) ?? Data())
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? head.count
        guard head.count >= 8, Array(head.prefix(8)) == signature else { return "not an HDF5 file" }
        // End-of-file address: superblock version 0/1 at byte 40, versions 2/3 at byte 28 (8-byte offsets).
        let version = head.count > 8 ? head[8] : 0
        let at = version >= 2 ? 28 : 40
        guard head.count >= at + 8 else { return "truncated: \(size) bytes, shorter than an HDF5 superblock" }
        let eof = head[at..<(at + 8)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        if eof > UInt64(size) { return "truncated: \(size) of \(eof) bytes" }
        return "a damaged HDF5 file"
    }
}
