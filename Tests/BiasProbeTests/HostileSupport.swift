import Foundation
import XCTest

/// Helpers for the hostile-input tests: a run that cannot hang the suite, and a fingerprint of
/// every file in a folder (to prove a refused command changed nothing).
enum Hostile {
    /// Runs biasprobe; a run still going after `limit` seconds is killed and reported as a hang
    /// (status -1). The limit is a functional bound (a FIFO `open` blocks forever), not a timing.
    static func run(_ args: [String], cwd: URL? = nil, limit: Double = 60) throws -> CLI.Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = args
        if let cwd { p.currentDirectoryURL = cwd }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        let done = DispatchSemaphore(value: 0)
        p.terminationHandler = { _ in done.signal() }
        try p.run()
        let o = Collected(), e = Collected()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { o.append(out.fileHandleForReading.readDataToEndOfFile()) }
        DispatchQueue.global().async(group: group) { e.append(err.fileHandleForReading.readDataToEndOfFile()) }
        if done.wait(timeout: .now() + limit) == .timedOut {
            kill(p.processIdentifier, SIGKILL)
            group.wait()
            return CLI.Result(status: -1, stdout: "", stderr: "hung for \(limit) s: " + e.text)
        }
        group.wait()
        return CLI.Result(status: p.terminationStatus, stdout: o.text, stderr: e.text)
    }

    /// path -> content hash (regular files) or node kind and inode (anything else), recursively.
    static func fingerprint(_ dir: URL) -> [String: String] {
        var out: [String: String] = [:]
        let fm = FileManager.default
        guard let e = fm.enumerator(atPath: dir.path) else { return out }
        while let rel = e.nextObject() as? String {
            let path = dir.appendingPathComponent(rel).path
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFREG, let d = fm.contents(atPath: path) {
                var h: UInt64 = 0xcbf29ce484222325   // FNV-1a
                for b in d { h = (h ^ UInt64(b)) &* 0x100000001b3 }
                out[rel] = "file \(d.count) \(h)"
            } else {
                out[rel] = "node \(st.st_mode & S_IFMT) \(st.st_ino)"
            }
        }
        return out
    }

    /// The stderr lines that are the error (ArgumentParser's usage and help hints aside).
    static func errorLines(_ r: CLI.Result) -> [Substring] {
        r.stderr.split(separator: "\n").filter { !$0.hasPrefix("Usage:") && !$0.hasPrefix("Help:") && !$0.contains("--help") && !$0.isEmpty }
    }
}

/// Output collected from another thread, with a condition to wait on.
final class Collected: @unchecked Sendable {
    let condition = NSCondition()
    private var data = Data()

    func append(_ d: Data) { condition.lock(); data.append(d); condition.broadcast(); condition.unlock() }
    var text: String { condition.lock(); defer { condition.unlock() }; return String(decoding: data, as: UTF8.self) }

    /// Waits until the text satisfies `predicate` or `alive` turns false (checked at least every second).
    func wait(until predicate: (String) -> Bool, while alive: () -> Bool) {
        condition.lock()
        while !predicate(String(decoding: data, as: UTF8.self)) && alive() { _ = condition.wait(until: Date().addingTimeInterval(1)) }
        condition.unlock()
    }
}
