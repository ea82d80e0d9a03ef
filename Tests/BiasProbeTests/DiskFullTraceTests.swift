import Foundation
import XCTest

/// `biasprobe trace` when the disk fills up while it writes. A full disk cannot be made without
/// mounting, so the run gets a file-size limit instead (`ulimit -f`): writes past it fail with
/// EFBIG where a full disk gives ENOSPC, through the same write(2) path in libhdf5.
final class DiskFullTraceTests: XCTestCase {
    /// The golden layout's trace is about 400 KB; 64 blocks of the shell's `ulimit -f` (512 bytes
    /// in dash, 1 KiB in bash) stop it part-way through the datasets.
    func testTraceOnAFullDiskFailsCleanly() throws {
        // ThreadSanitizer's runtime cannot start under a small RLIMIT_FSIZE at all (even
        // `biasprobe --version` dies with SIGBUS inside it), so there is nothing to learn here.
        if ProcessInfo.processInfo.environment["BIASPROBE_SANITIZER"] == "thread" {
            throw XCTSkip("the ThreadSanitizer runtime does not run under ulimit -f")
        }
        try CLI.requireModel()
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let layout = try CLI.goldenLayout(in: dir)
        let out = dir.appendingPathComponent("full.h5").path
        let args = ["trace", "--token-layout", layout, "--max-tokens", "2", "--quiet", "--out", out]
        let quoted = ([CLI.binary] + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let r = try CLI.shell("ulimit -f 64; exec " + quoted.joined(separator: " "))

        XCTAssertNotEqual(r.status, 0, "trace succeeded past the file-size limit: \(r.stderr)")
        XCTAssertFalse(r.killedBySignal, "biasprobe was killed (signal \(r.status)) instead of reporting the error")
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        XCTAssertEqual(lines.count, 1, "expected one line on stderr, got:\n\(r.stderr)")
        XCTAssertTrue(r.stderr.contains("File too large"), "the OS reason should be named: \(r.stderr)")
        XCTAssertTrue(r.stderr.contains(out), "the error should name the trace: \(r.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0 != "golden_layout.json" }
        XCTAssertEqual(left, [], "no trace and no temporary file may remain")

        // The same run without the limit succeeds, so the limit is what failed it.
        let ok = try CLI.run(args)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out))
    }
}

extension CLI {
    struct ShellResult { let status: Int32; let killedBySignal: Bool; let stdout: String; let stderr: String }

    /// Runs a /bin/sh command line (for limits such as `ulimit -f` that apply to what it execs).
    static func shell(_ command: String) throws -> ShellResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return ShellResult(status: p.terminationStatus, killedBySignal: p.terminationReason == .uncaughtSignal,
                           stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}
