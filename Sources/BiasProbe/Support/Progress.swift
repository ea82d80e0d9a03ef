import Foundation
import PCInference
import ProbeAnalysis

/// A progress line on stderr: redrawn in place on a terminal, printed every few seconds otherwise.
final class ProgressBar {
    let label: String
    let total: Int
    let quiet: Bool
    private let start = Date()
    private var last = Date.distantPast
    private let tty = isatty(STDERR_FILENO) != 0

    init(_ label: String, total: Int, quiet: Bool) { self.label = label; self.total = max(1, total); self.quiet = quiet }

    /// done of total units; `rate` tokens processed so far, for tokens/s.
    func update(_ done: Int, tokens: Int = 0, note: String = "") {
        guard !quiet else { return }
        let now = Date()
        guard done >= total || now.timeIntervalSince(last) >= (tty ? 0.2 : 5) else { return }
        last = now
        let el = now.timeIntervalSince(start)
        let frac = Double(done) / Double(total)
        let width = 24
        let filled = Int(frac * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let eta = done > 0 ? el / frac - el : 0
        var s = "\(label) [\(bar)] \(done)/\(total)"
        if tokens > 0 { s += String(format: "  %.0f tok/s", Double(tokens) / max(el, 1e-9)) }
        s += String(format: "  %@ elapsed, %@ left", Self.fmt(el), done > 0 ? Self.fmt(eta) : "?")
        if !note.isEmpty { s += "  " + note }
        FileHandle.standardError.write(((tty ? "\r\u{1B}[K" : "") + s + (tty ? "" : "\n")).data(using: .utf8)!)
    }

    func finish(_ message: String = "") {
        guard !quiet else { return }
        if tty { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) }
        if !message.isEmpty { Log.info(message) }
    }

    static func fmt(_ s: Double) -> String {
        if s < 60 { return String(format: "%.0fs", s) }
        if s < 3600 { return String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60) }
        return String(format: "%dh%02dm", Int(s) / 3600, (Int(s) % 3600) / 60)
    }
}

/// Machine-readable output: one JSON object per line on stdout (`JSONCoding`'s settings).
enum JSONOut {
    static func emit<T: Encodable>(_ value: T) throws {
        FileHandle.standardOutput.write(try JSONCoding.encoder().encode(value))
        FileHandle.standardOutput.write("\n".data(using: .utf8)!)
    }
}
