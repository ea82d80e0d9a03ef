import Foundation
import XCTest

/// Runs the built `biasprobe` binary, as users do.
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

    @discardableResult
    static func run(_ args: [String], environment: [String: String] = [:], cwd: URL? = nil) throws -> Result {
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

    /// A trace of the golden layout with the golden bins (S = 4, R = 16, last row only).
    static func goldenTrace(in dir: URL) throws -> String {
        let out = dir.appendingPathComponent("golden.h5").path
        let r = try run(["trace", "--token-layout", try goldenLayout(in: dir), "--sink-width", "4", "--recent-width", "16",
                         "--last-rows", "1", "--keep-chunks", "3", "--keep-every-first-token", "--no-question-bos",
                         "--max-tokens", "2", "--quiet", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        return out
    }
}
