import ArgumentParser
import Foundation
import PCInference
import ProbeAnalysis

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarise a trace: configuration, chunks, and the strongest sink and recent heads.")

    @Argument(help: "The trace file.") var trace: String = "trace.h5"
    @Option(help: ArgumentHelp("Print one dataset by its stable name, e.g. global/band_mass.", valueName: "name")) var select: String?
    @Option(help: "How many heads to list per band.") var top = 5
    @Option(help: ArgumentHelp("Print the text around this key index of the combined cache (the key axis of global/key_scores) and the document token it holds.", valueName: "index"))
    var key: Int?
    @Option(help: "With --key: characters of text shown on each side.") var around = 60
    @Flag(help: "Print the trace format documentation (Markdown) and exit.") var schema = false
    @Flag(help: "Print JSON on stdout.") var json = false

    func run() throws {
        if schema { print(TraceSchema.markdown(), terminator: ""); return }
        let t = try TraceReader(path: trace)
        if let key { return try printKey(key, t) }
        if let name = select {
            guard TraceSchema.entry(name) != nil else {
                throw CLIError("unknown dataset '\(name)'; names: \(TraceSchema.entries.map(\.name).joined(separator: ", "))")
            }
            let (v, shape) = try t.floatsOrInts(name)
            struct Selected: Encodable { var name: String, shape: [Int], values: [Double] }
            if json { try JSONOut.emit(Selected(name: name, shape: shape, values: v)) }
            else { print("\(name) \(shape)"); print(v.map { String(format: "%.6g", $0) }.joined(separator: " ")) }
            return
        }
        let summary = try TraceSummary(t)
        let L = summary.layers, H = summary.heads, C = summary.chunks
        let nll = summary.chunkNLL, kept = summary.chunkKept, len = summary.chunkLength
        let sinks = summary.ranking(band: 0, top: top), recents = summary.ranking(band: 2, top: top)
        let needle = try t.int("needle_chunk")
        if json {
            // The stored config and timings are shown as they were written, whatever fields they hold.
            func stored(_ name: String) -> JSONValue { (try? JSONCoding.decode(JSONValue.self, from: t.string(name))) ?? .object([:]) }
            try JSONOut.emit(TraceInspection(
                trace: trace, formatVersion: try t.int("format_version"), model: t.string("model_name"), layers: L, heads: H, chunks: C,
                documentTokens: try t.int("document_tokens"), config: stored("config_json"), chunkNLL: nll, chunkKept: kept.map(Int.init),
                chunkLength: len, needleChunk: needle, question: t.string("question"), answer: t.string("answer"),
                expectedAnswer: t.string("expected_answer"), topSinkHeads: sinks.map { .init(layer: $0.0, head: $0.1, mass: $0.2) },
                topRecentHeads: recents.map { .init(layer: $0.0, head: $0.1, mass: $0.2) }, timings: stored("timings_json"),
                peakRSSBytes: try t.int("peak_rss_bytes")))
            return
        }
        print("trace      \(trace) (format \(try t.int("format_version")), biasprobe \(t.string("biasprobe_version")), \(t.string("created")))")
        print("model      \(t.string("model_name")) — \(L) layers x \(H) heads; sha256 \(t.string("model_sha256").prefix(12))…")
        print("input      \(try t.int("document_tokens")) tokens in \(C) chunks; S=\(try t.int("sink_width")) R=\(try t.int("recent_width")) bins=\(try t.int("bins")) r=\(try t.int("last_rows"))")
        print("config     \(t.string("config_json"))")
        print("question   \(t.string("question"))")
        print("answer     \(t.string("answer"))" + (t.string("expected_answer").isEmpty ? "" : "   (expected \(t.string("expected_answer")))"))
        print("chunks     id  tokens   NLL     kept")
        for c in 0..<C {
            print(String(format: "           %3d  %6d  %7.4f  %@%@", c, len[c], nll[c], kept[c] == 1 ? "kept" : "    ", c == needle ? "  <- needle" : ""))
        }
        print("strongest global sink heads (mass on the kept chunks' first \(try t.int("sink_width")) keys):")
        for (l, h, m) in sinks { print(String(format: "           layer %2d head %d  %.3f", l, h, m)) }
        print("strongest global recent heads (mass on the kept chunks' last \(try t.int("recent_width")) keys):")
        for (l, h, m) in recents { print(String(format: "           layer %2d head %d  %.3f", l, h, m)) }
        print("timings    \(t.string("timings_json")); peak RSS \(String(format: "%.2f", Double(try t.int("peak_rss_bytes")) / 1e9)) GB")
    }
}

extension Inspect {
    /// `--key N`: which chunk and prefilled token the key holds, and the document text around it.
    func printKey(_ key: Int, _ t: TraceReader) throws {
        guard around >= 0 else { throw CLIError("--around must be at least 0, got \(around)") }
        guard (try? t.file.exists("input/chunk_token_char")) == true else {
            throw CLIError("\(trace) has no input/chunk_token_char (written before traces stored the document): re-run biasprobe trace to map keys to text")
        }
        let spanValues = try t.ints("input/combined_span")
        let spans = stride(from: 0, to: spanValues.count - 1, by: 2).map { Int(spanValues[$0])..<Int(max(spanValues[$0], spanValues[$0 + 1])) }
        let kept = try t.bytes("input/chunk_kept").enumerated().filter { $0.element != 0 }.map(\.offset)
        let lengths = try t.ints("input/chunk_length").map { max(0, Int($0)) }
        let keys = (spans.last?.upperBound ?? 0) + (try t.ints("input/question_ids")).count
        guard (0..<keys).contains(key) else { throw CLIError("--key \(key) is out of range: \(trace) has keys 0...\(keys - 1)") }
        guard let origin = KeyOrigin.of(key: key, spans: spans, keptIDs: kept, chunkLength: lengths) else {
            throw CLIError("\(trace): key \(key) is in no kept chunk's span (input/combined_span)")
        }
        guard case .chunk(let c, let i) = origin else {
            if case .question(let i) = origin {
                if json { try JSONOut.emit(KeyText(key: key, kind: "question", questionToken: i, question: t.string("question"))) }
                else { print("key \(key): question token \(i) (the question: \(t.string("question")))") }
            }
            return
        }
        let chars = try t.ints("input/chunk_token_char").map(Int.init)
        let offset = lengths.prefix(c).reduce(0, +)
        guard i >= 0, i < lengths[c], offset + lengths[c] <= chars.count else {
            throw CLIError("\(trace): input/chunk_token_char holds \(chars.count) tokens, fewer than input/chunk_length adds up to")
        }
        let lo = chars[offset + i]
        guard lo >= 0 else {
            if json { try JSONOut.emit(KeyText(key: key, kind: "prompt", chunk: c, chunkToken: i)) }
            else { print("key \(key): chunk \(c), token \(i) of its pass: BOS or prompt template, not document text") }
            return
        }
        let text = Array(t.string("document_text").unicodeScalars)
        // The token ends where the next document token of the chunk starts.
        let next = chars[(offset + i + 1)..<(offset + lengths[c])].first { $0 > lo } ?? min(text.count, lo + 1)
        let a = min(lo, text.count), b = max(a, min(next, text.count))
        func str(_ r: Range<Int>) -> String { var s = String.UnicodeScalarView(); s.append(contentsOf: text[r]); return String(s) }
        let token = str(a..<b), before = str(max(0, a - around)..<a), after = str(b..<min(text.count, b + around))
        if json {
            try JSONOut.emit(KeyText(key: key, kind: "document", chunk: c, chunkToken: i, charStart: a, charEnd: b, token: token, before: before, after: after))
        } else {
            print("key \(key): chunk \(c), token \(i) of its pass, document characters \(a)..<\(b)")
            print((before + "[[" + token + "]]" + after).replacingOccurrences(of: "\n", with: " "))
        }
    }
}

/// `inspect --json`.
struct TraceInspection: Encodable {
    struct Head: Encodable { var layer: Int, head: Int, mass: Double }
    var trace: String, formatVersion: Int, model: String, layers: Int, heads: Int, chunks: Int, documentTokens: Int
    var config: JSONValue
    var chunkNLL: [Double], chunkKept: [Int], chunkLength: [Int64], needleChunk: Int
    var question: String, answer: String, expectedAnswer: String
    var topSinkHeads: [Head], topRecentHeads: [Head]
    var timings: JSONValue
    var peakRSSBytes: Int
    enum CodingKeys: String, CodingKey {
        case trace, formatVersion = "format_version", model, layers, heads, chunks, documentTokens = "document_tokens", config
        case chunkNLL = "chunk_nll", chunkKept = "chunk_kept", chunkLength = "chunk_length", needleChunk = "needle_chunk"
        case question, answer, expectedAnswer = "expected_answer", topSinkHeads = "top_sink_heads", topRecentHeads = "top_recent_heads"
        case timings, peakRSSBytes = "peak_rss_bytes"
    }
}

/// `inspect --key N --json`: where a key came from (the fields its kind has).
struct KeyText: Encodable {
    var key: Int, kind: String
    var questionToken: Int? = nil, question: String? = nil
    var chunk: Int? = nil, chunkToken: Int? = nil
    var charStart: Int? = nil, charEnd: Int? = nil, token: String? = nil, before: String? = nil, after: String? = nil
    enum CodingKeys: String, CodingKey {
        case key, kind, questionToken = "question_token", question, chunk, chunkToken = "chunk_token"
        case charStart = "char_start", charEnd = "char_end", token, before, after
    }
}

extension TraceReader {
    /// Any numeric dataset as Doubles.
    func floatsOrInts(_ name: String) throws -> ([Double], [Int]) {
        let type = TraceSchema.entry(name)?.type ?? "float32"
        switch type {
        case "float32": let (v, s) = try floats(name); return (v.map(Double.init), s)
        case "float64": let v = try doubles(name); return (v, [v.count])
        case "uint8": let v = try bytes(name); return (v.map(Double.init), [v.count])
        default:
            let (v, s) = try read(name, as: Int64.self)
            return (v.map(Double.init), s)
        }
    }
}

/// Reads a whole trace or sweep file and exits 0, or prints why it cannot. Run by `TraceReader`
/// and `SweepResults.read` in a child process before they open a file themselves, so a file that
/// crashes libhdf5 (e.g. a string attribute read through a damaged global heap) cannot crash
/// the caller.
struct CheckTrace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-trace", abstract: "Read every dataset and attribute of a trace or sweep file (used internally).",
        shouldDisplay: false)

    @Argument(help: "The trace or sweep file.") var trace: String
    @Flag(help: "The file is a sweep file.") var sweep = false

    func run() throws {
        if sweep { _ = try SweepResults.read(path: trace, isolated: false, allowPart: true) }
        else { try TraceReader(path: trace, isolated: false).readEverything() }
    }
}
