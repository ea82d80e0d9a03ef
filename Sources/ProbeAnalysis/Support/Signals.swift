import Foundation

/// Ctrl-C handling: the first SIGINT/SIGTERM asks long work to stop at the next safe point (the
/// command then removes partial output and exits 130); a second one exits at once.
public enum Signals {
    public nonisolated(unsafe) static var interrupted: sig_atomic_t = 0
    /// The temporary output being written (a C string), deleted by a second Ctrl-C before it
    /// exits, so even the immediate exit leaves no partial file. Set with `removeOnExit`.
    public nonisolated(unsafe) static var pendingTemporary: UnsafeMutablePointer<CChar>?

    public static func install() {
        let handler: @convention(c) (Int32) -> Void = { sig in
            // Only async-signal-safe calls here: write, unlink, _exit.
            if Signals.interrupted != 0 {
                if let p = Signals.pendingTemporary { unlink(p) }
                _exit(128 + sig)
            }
            Signals.interrupted = 1
            let note: StaticString = "\nstopping… (press Ctrl-C again to quit at once)\n"
            _ = write(2, note.utf8Start, note.utf8CodeUnitCount)
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        // Past a file-size limit (ulimit -f) the kernel would kill us with SIGXFSZ, leaving a
        // temporary trace behind; ignored, the write fails with EFBIG like a full disk, and the
        // writer removes its partial output and reports one line.
        signal(SIGXFSZ, SIG_IGN)
    }

    /// Registers (or with nil clears) the temporary file a second Ctrl-C deletes.
    public static func removeOnExit(_ path: String?) {
        let old = pendingTemporary
        pendingTemporary = path.map { strdup($0) }
        free(old)
    }

    public static var isInterrupted: Bool { interrupted != 0 }
}

public struct InterruptedError: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "interrupted; partial output removed" }
}

/// Process memory, for reports.
public enum ProcessStats {
    /// Peak resident set size in bytes.
    public static var peakRSS: Int {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Int(u.ru_maxrss) * 1024
    }

    /// Start a new peak: Linux resets the VmHWM high-water mark when "5" is written to clear_refs.
    /// Returns false where that is not possible (then `peakRSSSinceReset` is the process peak).
    @discardableResult
    public static func resetPeak() -> Bool {
        guard let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? h.close() }
        return (try? h.write(contentsOf: Data("5".utf8))) != nil
    }

    /// Peak resident set size since the last `resetPeak()` (VmHWM), else the process peak.
    public static var peakRSSSinceReset: Int {
        if let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kb = Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") {
            return kb * 1024
        }
        return peakRSS
    }
}
