import Foundation
import PCInference

/// The header line of a part of a sharded `eval` or `claims` run (--shard I/N).
public struct PartHeader: Codable, Equatable {
    public static let format = "biasprobe-eval-part"
    public var format: String = PartHeader.format
    public var version = 1
    public var shard: String
    /// Canonical JSON of what must match between parts (task, lengths, depths, seeds, methods, config, model path).
    public var settings: String
    public var modelSHA256: String
    public var workList: String
    /// Size of the whole work list, and the items (indices into it) this shard owns.
    public var totalItems: Int
    public var items: [Int]
    public var host: String
    public init(format: String = PartHeader.format, version: Int = 1, shard: String, settings: String, modelSHA256: String, workList: String, totalItems: Int, items: [Int], host: String) {
        self.format = format; self.version = version; self.shard = shard; self.settings = settings; self.modelSHA256 = modelSHA256; self.workList = workList; self.totalItems = totalItems; self.items = items; self.host = host
    }

    public static func looksLikePart(_ path: String) -> Bool {
        guard let h = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? h.close() }
        let head = String(decoding: (try? h.read(upToCount: 200)) ?? Data(), as: UTF8.self)
        return head.hasPrefix("{") && head.contains(format)
    }

    /// The header of a part, whatever its rows are.
    public static func read(path: String) throws -> PartHeader { try EvalPart<JSONValue>.read(path: path, rowName: "result").header }
}

/// A part of a sharded `biasprobe eval` or `claims run` (--shard I/N): JSON lines, a header, then
/// one line per finished item, appended as it finishes, so a killed task keeps what it did and resumes:
///
///     {"format":"biasprobe-eval-part","version":1,"shard":"2/4",...,"items":[1,5,9]}
///     {"item":5,"peak_rss_bytes":612345856,"row":{...the line eval --json prints...}}
///
/// Rows are typed values written with `JSONCoding`, which gives the same bytes for the same
/// row, so the merged file repeats what each shard printed.
public struct EvalPart<Row: Codable> {
    public typealias Header = PartHeader
    /// One result line.
    public struct Line: Codable {
        public var item: Int
        public var peakRSSBytes: Int64?
        public var row: Row
        enum CodingKeys: String, CodingKey { case item, peakRSSBytes = "peak_rss_bytes", row }
    }
    /// What a result line must look like before its row is read as a `Row`.
    private struct Shape: Decodable { var item: Int; var row: [String: JSONValue] }

    public var header: Header
    /// item -> (row, peak RSS of the process when it finished)
    public var rows: [Int: (row: Row, peakRSS: Int64)] = [:]
    public init(header: Header, rows: [Int: (row: Row, peakRSS: Int64)] = [:]) {
        self.header = header; self.rows = rows
    }

    public var missing: [Int] { header.items.filter { rows[$0] == nil } }

    /// The part to continue at `path`: the rows already there when it holds the same work list
    /// (only the host may differ; `resumed` true), else, and with `restart`, a new part. `what`
    /// names the run in the refusal ("eval", "claims run").
    public static func resuming(path: String, header: Header, rowName: String, restart: Bool,
                                what: String) throws -> (part: EvalPart, resumed: Bool) {
        var part = EvalPart(header: header)
        guard FileManager.default.fileExists(atPath: path) && !restart else { return (part, false) }
        let old = try read(path: path, rowName: rowName)
        var h = old.header; h.host = header.host
        guard h == header else {
            throw AnalysisError("\(path) holds another shard or \(what) (settings, model or shard count differ): pass --restart to overwrite it")
        }
        part.rows = old.rows
        return (part, true)
    }

    /// `rowName` names the row type in errors ("eval", "claims example").
    public static func read(path: String, rowName: String) throws -> EvalPart {
        let data = try InputFile.data(path, option: "part")
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
        guard let first = lines.first, let header = try? JSONCoding.decode(Header.self, from: first), header.format == Header.format else {
            throw AnalysisError("\(path) is not a part of a sharded eval (no biasprobe-eval-part header)")
        }
        guard header.version == 1 else { throw AnalysisError("\(path) has eval part version \(header.version); this biasprobe reads version 1") }
        var part = EvalPart(header: header)
        let owned = Set(header.items)
        let endsWithNewline = data.last == UInt8(ascii: "\n")
        for (n, text) in lines.enumerated().dropFirst() {
            guard let shape = try? JSONCoding.decode(Shape.self, from: text) else {
                // A killed task can leave its last line cut short (no newline): not a result.
                // Any other line that is not a result is damage, never dropped in silence.
                if n == lines.count - 1 && !endsWithNewline { continue }
                throw AnalysisError("\(path) line \(n + 1) is not a result line ({\"item\": N, \"row\": {...}}): \(text.prefix(60))")
            }
            guard owned.contains(shape.item) else { throw AnalysisError("\(path) holds item \(shape.item) that is not in its shard \(header.shard)") }
            let line: Line
            do { line = try JSONCoding.decode(Line.self, from: text) }
            catch { throw AnalysisError("\(path) line \(n + 1): item \(shape.item) is not a valid \(rowName) row: \(ConfigFile.describe(error))") }
            part.rows[line.item] = (line.row, line.peakRSSBytes ?? 0)
        }
        return part
    }

    public static func line(item: Int, peakRSS: Int64, row: Row) throws -> String {
        try JSONCoding.line(Line(item: item, peakRSSBytes: peakRSS, row: row)) + "\n"
    }

    /// Rewrites the whole part atomically (header and the rows so far).
    public func write(path: String) throws {
        var text = try JSONCoding.line(header) + "\n"
        for i in rows.keys.sorted() { text += try Self.line(item: i, peakRSS: rows[i]!.peakRSS, row: rows[i]!.row) }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Appends one finished item (the file already holds the header).
    public static func append(path: String, item: Int, peakRSS: Int64, row: Row) throws {
        guard let h = FileHandle(forWritingAtPath: path) else { throw AnalysisError("cannot write \(path)") }
        defer { try? h.close() }
        try h.seekToEnd()
        try h.write(contentsOf: Data(try line(item: item, peakRSS: peakRSS, row: row).utf8))
        try h.synchronize()
    }
}

/// Joins eval parts into the lines `eval --json` prints: every row in work-list order, then the summary.
public enum EvalMerge {
    /// `partial`: merge the items present and leave the missing ones out (an interim report of
    /// a resumable run); otherwise a missing item is an error.
    public static func merge<Row>(_ parts: [(path: String, part: EvalPart<Row>)], partial: Bool = false) throws -> (rows: [Row], peakRSS: Int64, hosts: [String]) {
        guard let first = parts.first else { throw AnalysisError("no parts to merge") }
        let h0 = first.part.header
        guard let s0 = Shard(argument: h0.shard) else { throw AnalysisError("\(first.path): shard '\(h0.shard)' is not I/N") }
        for (path, p) in parts.dropFirst() {
            let h = p.header
            guard let s = Shard(argument: h.shard) else { throw AnalysisError("\(path): shard '\(h.shard)' is not I/N") }
            if s.count != s0.count { throw AnalysisError("cannot merge: \(path) is a shard of \(s.count), \(first.path) of \(s0.count)") }
            if h.modelSHA256 != h0.modelSHA256 {
                throw AnalysisError("cannot merge: \(path) has model sha256 \(h.modelSHA256.prefix(12))…, \(first.path) has \(h0.modelSHA256.prefix(12))…")
            }
            if h.settings != h0.settings {
                let a = (try? JSONCoding.decode(JSONValue.self, from: h0.settings))?.object ?? [:]
                let b = (try? JSONCoding.decode(JSONValue.self, from: h.settings))?.object ?? [:]
                let key = Set(a.keys).union(b.keys).sorted().first { a[$0] != b[$0] }
                throw AnalysisError("cannot merge: \(path) has other settings than \(first.path)" + (key.map { " (\($0) differs)" } ?? ""))
            }
            if h.workList != h0.workList || h.totalItems != h0.totalItems { throw AnalysisError("cannot merge: \(path) has another work list than \(first.path)") }
        }
        var byShard: [Int: String] = [:]
        var owner = [Int?](repeating: nil, count: h0.totalItems)
        for (k, (path, p)) in parts.enumerated() {
            let s = Shard(argument: p.header.shard)!
            if let q = byShard[s.index] { throw AnalysisError("cannot merge: shard \(s) is given twice (\(q) and \(path))") }
            byShard[s.index] = path
            for i in p.header.items {
                guard (0..<h0.totalItems).contains(i) else { throw AnalysisError("cannot merge: \(path) has item \(i) outside the work list") }
                if let o = owner[i] { throw AnalysisError("cannot merge: item \(i) is in both \(parts[o].path) and \(path)") }
                owner[i] = k
            }
        }
        var problems: [String] = []
        let absent = (1...s0.count).filter { byShard[$0] == nil }
        if !absent.isEmpty {
            let orphans = owner.indices.filter { owner[$0] == nil }
            problems.append("no part for shard \(absent.map { "\($0)/\(s0.count)" }.joined(separator: ", ")) (\(orphans.count) items: \(shortList(orphans.map { "item \($0)" })))")
        }
        for (path, p) in parts.sorted(by: { Shard(argument: $0.part.header.shard)!.index < Shard(argument: $1.part.header.shard)!.index }) where !p.missing.isEmpty {
            problems.append("shard \(p.header.shard) (\(path)) is missing \(p.missing.count) of \(p.header.items.count) items: \(shortList(p.missing.map { "item \($0)" }))")
        }
        if !problems.isEmpty && !partial {
            throw AnalysisError("incomplete: " + problems.joined(separator: "; ") + "; re-run those shards (the same command with --shard I/N), then merge again")
        }
        let rows = (0..<h0.totalItems).compactMap { i in owner[i].flatMap { parts[$0].part.rows[i]?.row } }
        let peak = parts.flatMap { $0.part.rows.values.map(\.peakRSS) }.max() ?? 0
        let hosts = parts.sorted { Shard(argument: $0.part.header.shard)!.index < Shard(argument: $1.part.header.shard)!.index }.map(\.part.header.host)
        return (rows, peak, hosts)
    }
}
