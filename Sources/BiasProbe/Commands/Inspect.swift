import ArgumentParser
import Foundation
import PCInference

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
            if json { try JSONOut.emit(dictionary: ["name": name, "shape": shape, "values": v.map { $0.isNaN ? "NaN" as Any : $0 as Any }]) }
            else { print("\(name) \(shape)"); print(v.map { String(format: "%.6g", $0) }.joined(separator: " ")) }
            return
        }
        let summary = try TraceSummary(t)
        let L = summary.layers, H = summary.heads, C = summary.chunks
        let nll = summary.chunkNLL, kept = summary.chunkKept, len = summary.chunkLength
        let sinks = summary.ranking(band: 0, top: top), recents = summary.ranking(band: 2, top: top)
        let needle = try t.int("needle_chunk")
        if json {
            try JSONOut.emit(dictionary: [
                "trace": trace, "format_version": try t.int("format_version"), "model": t.string("model_name"),
                "layers": L, "heads": H, "chunks": C, "document_tokens": try t.int("document_tokens"),
                "config": (try? JSONSerialization.jsonObject(with: Data(t.string("config_json").utf8))) ?? [:],
                "chunk_nll": nll, "chunk_kept": kept.map(Int.init), "chunk_length": len, "needle_chunk": needle,
                "question": t.string("question"), "answer": t.string("answer"), "expected_answer": t.string("expected_answer"),
                "top_sink_heads": sinks.map { ["layer": $0.0, "head": $0.1, "mass": $0.2] },
                "top_recent_heads": recents.map { ["layer": $0.0, "head": $0.1, "mass": $0.2] },
                "timings": (try? JSONSerialization.jsonObject(with: Data(t.string("timings_json").utf8))) ?? [:],
                "peak_rss_bytes": try t.int("peak_rss_bytes"),
            ])
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
    /// `--key N`: which chunk and document token the key holds, and the text around it.
    func printKey(_ key: Int, _ t: TraceReader) throws {
        guard around >= 0 else { throw CLIError("--around must be at least 0, got \(around)") }
        guard (try? t.file.exists("input/document_ids")) == true else {
            throw CLIError("\(trace) has no input/document_ids (written before traces stored the document): re-run biasprobe trace to map keys to text")
        }
        let spanValues = try t.ints("input/combined_span")
        let spans = stride(from: 0, to: spanValues.count - 1, by: 2).map { Int(spanValues[$0])..<Int(spanValues[$0 + 1]) }
        let kept = try t.bytes("input/chunk_kept").enumerated().filter { $0.element != 0 }.map(\.offset)
        let lengths = try t.ints("input/chunk_length").map(Int.init)
        let tokenSpan = try t.ints("input/chunk_token_span").map(Int.init)
        let starts = stride(from: 0, to: tokenSpan.count, by: 2).map { tokenSpan[$0] }
        let prefix = try t.int("prefix_tokens")
        let keys = (spans.last?.upperBound ?? 0) + (try t.ints("input/question_ids")).count
        guard (0..<keys).contains(key) else { throw CLIError("--key \(key) is out of range: \(trace) has keys 0...\(keys - 1)") }
        guard let origin = KeyOrigin.of(key: key, spans: spans, keptIDs: kept, chunkLength: lengths, chunkTokenStart: starts, prefixLength: prefix) else {
            throw CLIError("key \(key) of \(trace) does not map to document text (a character-split chunk)")
        }
        switch origin {
        case .question(let i):
            let q = t.string("question")
            if json { try JSONOut.emit(dictionary: ["key": key, "kind": "question", "question_token": i, "question": q]) }
            else { print("key \(key): question token \(i) (the question: \(q))") }
        case .prefix(let c, let i):
            if json { try JSONOut.emit(dictionary: ["key": key, "kind": "prefix", "chunk": c, "index": i]) }
            else { print("key \(key): chunk \(c), prompt prefix token \(i) (BOS or template, not document text)") }
        case .document(let c, let tokenIndex):
            let ids = try t.ints("input/document_ids")
            let charStart = try t.ints("input/token_char_start").map(Int.init)
            let text = Array(t.string("document_text").unicodeScalars)
            guard tokenIndex >= 0, tokenIndex < ids.count, charStart.count == ids.count else {
                throw CLIError("\(trace): key \(key) maps to document token \(tokenIndex), outside input/document_ids (\(ids.count) tokens)")
            }
            let lo = min(charStart[tokenIndex], text.count)
            let hi = max(lo, min(tokenIndex + 1 < ids.count ? charStart[tokenIndex + 1] : text.count, text.count))
            func str(_ r: Range<Int>) -> String { var s = String.UnicodeScalarView(); s.append(contentsOf: text[r]); return String(s) }
            let token = str(lo..<hi), before = str(max(0, lo - around)..<lo), after = str(hi..<min(text.count, hi + around))
            if json {
                try JSONOut.emit(dictionary: ["key": key, "kind": "document", "chunk": c, "document_token": tokenIndex, "token_id": ids[tokenIndex],
                                              "char_start": lo, "char_end": hi, "token": token, "before": before, "after": after])
            } else {
                print("key \(key): chunk \(c), document token \(tokenIndex) (id \(ids[tokenIndex])), characters \(lo)..<\(hi)")
                print((before + "[[" + token + "]]" + after).replacingOccurrences(of: "\n", with: " "))
            }
        }
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
