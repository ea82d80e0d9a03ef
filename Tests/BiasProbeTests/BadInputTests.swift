import XCTest

/// Bad input gets one line on stderr and a non-zero exit, never a crash.
final class BadInputTests: XCTestCase {
    func assertOneLineError(_ args: [String], contains: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try CLI.run(args)
        XCTAssertNotEqual(r.status, 0, "exit status of \(args)", file: file, line: line)
        XCTAssertLessThan(r.status, 128, "crashed (signal) on \(args): \(r.stderr)", file: file, line: line)
        // ArgumentParser adds usage and, for a bad option value, a "Help:" line naming the option.
        let lines = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("Usage:") && !$0.hasPrefix("Help:") && !$0.contains("--help") }
        XCTAssertEqual(lines.count, 1, "stderr of \(args): \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(contains), "stderr of \(args) should mention '\(contains)': \(r.stderr)", file: file, line: line)
    }

    func testContextSpecs() throws {
        try assertOneLineError(["trace", "--context", "12x"], contains: "12x")
        try assertOneLineError(["trace", "--context", "-5"], contains: "context")
        try assertOneLineError(["eval", "passkey", "--lengths", "8k,abc"], contains: "abc")
    }

    func testHostileModelFiles() throws {
        try CLI.requireModel()
        let dir = try CLI.tempDir()
        // Truncated: the first megabyte of the real model.
        let truncated = dir.appendingPathComponent("truncated.gguf").path
        let h = FileHandle(forReadingAtPath: CLI.modelPath)!
        try h.read(upToCount: 1 << 20)!.write(to: URL(fileURLWithPath: truncated))
        try assertOneLineError(["info", "--model", truncated], contains: "truncated")
        let text = dir.appendingPathComponent("text.gguf").path
        try "not a model at all, just some text that is long enough".write(toFile: text, atomically: true, encoding: .utf8)
        try assertOneLineError(["info", "--model", text], contains: "not a GGUF file")
        try assertOneLineError(["info", "--model", dir.appendingPathComponent("missing.gguf").path], contains: "not found")
        let malformed = CLI.packageRoot.appendingPathComponent("Tests/PCInferenceTests/Fixtures/malformed")
        try assertOneLineError(["info", "--model", malformed.appendingPathComponent("duplicate-metadata-key.gguf").path],
                               contains: "general.architecture appears twice")
        try assertOneLineError(["info", "--model", malformed.appendingPathComponent("duplicate-tensor-name.gguf").path],
                               contains: "token_embd.weight appears twice")
    }

    func testPipelineOptionsOutOfRange() throws {
        try CLI.requireModel()
        let dir = try CLI.tempDir()
        let ctx = dir.appendingPathComponent("ctx.txt").path
        try String(repeating: "The sky is blue. ", count: 80).write(toFile: ctx, atomically: true, encoding: .utf8)
        try assertOneLineError(["run", "--input", ctx, "--question", "Why?", "--calibration", "sink:20-40"], contains: "outside")
        try assertOneLineError(["run", "--input", ctx, "--question", "Why?", "--calibration", "sideways:1-2"], contains: "BAND")
        try assertOneLineError(["run", "--input", ctx, "--question", "Why?", "--keep-chunks", "0"], contains: "keep-chunks")
        // The inference library reports eviction-lab problems by setting; the command line says them with its flags.
        try assertOneLineError(["run", "--input", ctx, "--question", "Why?", "--policy", "h2o", "--budget", "8", "--ratio", "0.5"],
                               contains: "--policy needs exactly one of --budget N or --ratio R")
        try assertOneLineError(["run", "--input", ctx, "--question", "Why?", "--policy", "h2o", "--budget", "4", "--sink", "4", "--recent", "4"],
                               contains: "--sink 4 + --recent 4 exceed --budget 4")
        try assertOneLineError(["sweep", "--vary", "policy=h2o"], contains: "--vary policy=h2o: --policy needs exactly one of --budget N or --ratio R")
        let empty = dir.appendingPathComponent("empty.txt").path
        try "  \n".write(toFile: empty, atomically: true, encoding: .utf8)
        try assertOneLineError(["run", "--input", empty, "--question", "Why?"], contains: "empty")
        try assertOneLineError(["run", "--input", ctx, "--question", String(repeating: "why ", count: 300), "--chunk-tokens", "256"], contains: "longer than the chunk")
        // More chunks asked for than exist: a note, and every chunk is kept.
        let r = try CLI.run(["run", "--input", ctx, "--question", "Why?", "--keep-chunks", "50", "--chunk-tokens", "256", "--max-tokens", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("keeping all"), r.stderr)
    }

    /// A model without a chat template (the base Gemma 3 270M) has no chat layout: the claims
    /// refuse it rather than write a column labelled "chat" that is the official layout.
    /// A folder holding a finished claims run is refused before any work, and its files stay as
    /// they were (seen failing: the run recomputed every example and wrote over them).
    func testFinishedClaimsRunIsNotWrittenOver() throws {
        let dir = try CLI.tempDir().appendingPathComponent("done")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let rows = dir.appendingPathComponent("examples.jsonl")
        try "{\"a finished run\": 1}\n".write(to: rows, atomically: true, encoding: .utf8)
        try assertOneLineError(["claims", "run", "--quick", "--quiet", "--out-dir", dir.path], contains: "already holds a finished run")
        try assertOneLineError(["claims", "run", "--quick", "--quiet", "--processes", "2", "--out-dir", dir.path], contains: "already holds a finished run")
        XCTAssertEqual(try String(contentsOf: rows, encoding: .utf8), "{\"a finished run\": 1}\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["examples.jsonl"], "nothing else written")
    }

    func testChatLayoutNeedsAChatTemplate() throws {
        let gemma = (ProcessInfo.processInfo.environment["BIASPROBE_CACHE"] ?? (NSHomeDirectory() + "/.cache/biasprobe")) + "/gemma-3-270m-q4_k_m.gguf"
        guard FileManager.default.fileExists(atPath: gemma) else { throw XCTSkip("Gemma 3 model missing at \(gemma): run scripts/setup.sh") }
        let out = try CLI.tempDir().appendingPathComponent("claims").path
        try assertOneLineError(["claims", "run", "--model", "gemma3", "--prompt-layout", "chat", "--examples", "1", "--quiet", "--out-dir", out],
                               contains: "has no chat template")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "refused before any work: nothing written")
        // The pipeline commands refuse it the same way.
        let ctx = try CLI.tempDir().appendingPathComponent("ctx.txt").path
        try String(repeating: "The sky is blue. ", count: 40).write(toFile: ctx, atomically: true, encoding: .utf8)
        try assertOneLineError(["run", "--model", "gemma3", "--prompt-layout", "chat", "--input", ctx, "--question", "Why?"],
                               contains: "has no chat template")
        let trace = try CLI.tempDir().appendingPathComponent("t.h5").path
        try assertOneLineError(["trace", "--model", "gemma3", "--prompt-layout", "chat", "--input", ctx, "--question", "Why?", "--out", trace],
                               contains: "has no chat template")
        XCTAssertFalse(FileManager.default.fileExists(atPath: trace), "no trace file for a refused layout")
    }
}
