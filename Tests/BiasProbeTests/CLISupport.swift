import BiasProbe
@preconcurrency import Glibc
import Foundation
import XCTest

/// Runs biasprobe command lines: in this process by default (`run`: parsed and run as the
/// binary's `main` does, stdout and stderr captured), or as the built binary (`runBinary`) where
/// only a separate process shows the behaviour: exit on signals, BLAS re-exec, ulimit, stdout
/// buffering into a file.
enum CLI {
    static var packageRoot: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
    static var goldenDir: URL {
        if let g = ProcessInfo.processInfo.environment["BIASPROBE_GOLDEN"] { return URL(fileURLWithPath: g) }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/golden")
    }

    /// The binary next to the test bundle (both live in .build/<config>/).
    static var binary: String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir.appendingPathComponent("biasprobe").path,
                          packageRoot.appendingPathComponent(".build/release/biasprobe").path,
                          packageRoot.appendingPathComponent(".build/debug/biasprobe").path]
        where FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        return "biasprobe"
    }

    static var modelPath: String {
        let env = ProcessInfo.processInfo.environment
        return env["BIASPROBE_MODEL"] ?? ((env["BIASPROBE_CACHE"] ?? (NSHomeDirectory() + "/.cache/biasprobe")) + "/SmolLM2-135M-Instruct.Q4_1.gguf")
    }

    static func requireModel() throws {
        guard FileManager.default.fileExists(atPath: modelPath) else {
            XCTFail("default model missing at \(modelPath): run scripts/setup.sh")
            throw XCTSkip("no model")
        }
    }

    struct Result { let status: Int32; let stdout: String; let stderr: String }

    /// Runs a command line in this process (see `InProcess`); `environment` and `cwd` apply for
    /// the length of the call.
    @discardableResult
    static func run(_ args: [String], environment: [String: String] = [:], cwd: URL? = nil) throws -> Result {
        try InProcess.run(args, environment: environment, cwd: cwd?.path)
    }

    /// Runs the built binary in a process of its own.
    @discardableResult
    static func runBinary(_ args: [String], environment: [String: String] = [:], cwd: URL? = nil) throws -> Result {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        return try launch(binary, args, environment: env, cwd: cwd)
    }

    /// Runs python3 with a script (h5py must be importable: scripts/setup.sh installs it).
    static func python(_ script: String, args: [String] = []) throws -> Result {
        try launch("/usr/bin/env", ["python3", "-c", script] + args)
    }

    static func launch(_ executable: String, _ args: [String], environment: [String: String]? = nil, cwd: URL? = nil) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        if let environment { p.environment = environment }
        if let cwd { p.currentDirectoryURL = cwd }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    static func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("biasprobe-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    /// Writes the golden layout as a --token-layout file.
    static func goldenLayout(in dir: URL) throws -> String {
        let data = try Data(contentsOf: goldenDir.appendingPathComponent("attn_mass.json"))
        let j = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        // That reference's ids are exact: chunks without a BOS, the query with its own leading token.
        let layout: [String: Any] = ["chunks": j["chunk_ids"]!, "question": j["query_ids"]!, "exact": true]
        let path = dir.appendingPathComponent("golden_layout.json").path
        try JSONSerialization.data(withJSONObject: layout).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A trace of the golden layout with the golden bins (S = 4, R = 16, last row only), made
    /// once per test process and copied into `dir` (tests may change or move their copy).
    static func goldenTrace(in dir: URL) throws -> String {
        let out = dir.appendingPathComponent("golden.h5").path
        _ = try goldenLayout(in: dir)
        try FileManager.default.copyItem(atPath: try GoldenTraceOnce.path(), toPath: out)
        return out
    }
}

/// The golden trace, made by the first test that asks for it.
private enum GoldenTraceOnce {
    nonisolated(unsafe) private static var made: String?
    private static let lock = NSLock()

    static func path() throws -> String {
        lock.lock(); defer { lock.unlock() }
        if let made { return made }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("biasprobe-golden-trace-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let out = dir.appendingPathComponent("golden.h5").path
        let r = try CLI.run(["trace", "--token-layout", try CLI.goldenLayout(in: dir), "--sink-width", "4", "--recent-width", "16",
                             "--last-rows", "1", "--keep-chunks", "3", "--keep-every-first-token", "--no-question-bos",
                             "--max-tokens", "2", "--quiet", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        made = out
        return out
    }
}

/// Runs a command line in this process as the binary's `main` would, through
/// `CommandLineEntry.run`, with file descriptors 1 and 2 sent to temporary files for the length
/// of the call. One command at a time (descriptors, environment and working directory are
/// process-wide). Child processes a command starts (check-trace, claim workers) run the built
/// binary. Not for what needs a process of its own: signals, `exit`, BLAS's re-exec, ulimit.
enum InProcess {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var prepared = false

    static func run(_ args: [String], environment: [String: String] = [:], cwd: String? = nil) throws -> CLI.Result {
        lock.lock(); defer { lock.unlock() }
        if !prepared {
            CommandLineEntry.executable = CLI.binary
            // As main does: --json lines and printed text reach stdout in the order written.
            setvbuf(stdout, nil, _IOLBF, 0)
            prepared = true
        }
        let base = NSTemporaryDirectory() + "biasprobe-inprocess-\(getpid())-\(UUID().uuidString)"
        let outFD = open(base + ".out", O_RDWR | O_CREAT | O_TRUNC, 0o600), errFD = open(base + ".err", O_RDWR | O_CREAT | O_TRUNC, 0o600)
        guard outFD >= 0, errFD >= 0 else { throw CocoaError(.fileWriteUnknown) }
        defer { close(outFD); close(errFD); unlink(base + ".out"); unlink(base + ".err") }

        // Environment and working directory, restored afterwards.
        var saved: [String: String?] = [:]
        for (k, v) in environment { saved[k] = ProcessInfo.processInfo.environment[k]; setenv(k, v, 1) }
        let oldCwd = FileManager.default.currentDirectoryPath
        if let cwd { guard FileManager.default.changeCurrentDirectoryPath(cwd) else { throw CocoaError(.fileNoSuchFile) } }
        defer {
            for (k, v) in saved { if let v { setenv(k, v, 1) } else { unsetenv(k) } }
            if cwd != nil { _ = FileManager.default.changeCurrentDirectoryPath(oldCwd) }
        }

        fflush(stdout); fflush(stderr)
        let keptOut = dup(1), keptErr = dup(2)
        dup2(outFD, 1); dup2(errFD, 2)
        let status = CommandLineEntry.run(args)
        fflush(stdout); fflush(stderr)
        dup2(keptOut, 1); dup2(keptErr, 2)
        close(keptOut); close(keptErr)

        func text(_ path: String) -> String { String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }
        return CLI.Result(status: status, stdout: text(base + ".out"), stderr: text(base + ".err"))
    }
}

/// The built binary running in the background, its stderr collected, for the tests that signal
/// it. Waits are on conditions (a line on stderr, CPU time spent), each with a deadline.
final class Child {
    let process = Process()
    let stderr = Collected()
    private let exited = DispatchSemaphore(value: 0)

    init(_ args: [String]) throws {
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = args
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        let collected = stderr
        err.fileHandleForReading.readabilityHandler = { h in
            let d = h.availableData
            if d.isEmpty { h.readabilityHandler = nil } else { collected.append(d) }
        }
        let done = exited
        process.terminationHandler = { _ in done.signal() }
        try process.run()
    }

    var isRunning: Bool { process.isRunning }

    /// CPU seconds (user + system, all threads) the process has used: a measure of how far its
    /// work got that does not depend on how busy the machine is.
    var cpuSeconds: Double {
        guard let s = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let close = s.lastIndex(of: ")") else { return 0 }
        // Fields after the command name: state is field 3, utime and stime are fields 14 and 15.
        let f = s[s.index(after: close)...].split(separator: " ")
        guard f.count > 13, let u = Double(f[11]), let k = Double(f[12]) else { return 0 }
        return (u + k) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Waits until stderr satisfies `predicate` while the process runs; false if it ended first.
    @discardableResult
    func waitForStderr(_ predicate: (String) -> Bool) -> Bool {
        stderr.wait(until: predicate, while: { process.isRunning })
        return predicate(stderr.text)
    }

    /// Waits until the process has used `seconds` more CPU time than `from`, or ended, or
    /// `deadline` passed (polling: CPU time has no notification). True when the CPU time was reached.
    @discardableResult
    func waitForCPU(_ seconds: Double, from: Double, deadline: TimeInterval = 300) -> Bool {
        let end = Date().addingTimeInterval(deadline)
        while process.isRunning && Date() < end {
            if cpuSeconds - from >= seconds { return true }
            if exited.wait(timeout: .now() + 0.02) == .success { exited.signal(); break }
        }
        return false
    }

    /// Waits for the exit; false (after SIGKILL) if it did not come within `deadline` seconds.
    func waitForExit(deadline: TimeInterval) -> Bool {
        if exited.wait(timeout: .now() + deadline) == .success { exited.signal(); return true }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return false
    }
}
