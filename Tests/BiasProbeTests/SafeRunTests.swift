import Foundation
import XCTest

/// Honest inputs, replacing only with --force, and Ctrl-C that acts at once.
final class SafeRunTests: XCTestCase {
    /// Attributes of a trace, by h5py.
    func attributes(_ path: String, _ names: [String]) throws -> [String: Double] {
        let r = try CLI.python("import h5py,sys,json\nf=h5py.File(sys.argv[1],'r')\nprint(json.dumps({n: float(f.attrs[n]) for n in sys.argv[2:]}))",
                               args: [path] + names)
        XCTAssertEqual(r.status, 0, r.stderr)
        return try JSONDecoder().decode([String: Double].self, from: Data(r.stdout.utf8))
    }

    func testTraceInputIsTracedAsItIsAndKeysMapBackToWords() throws {
        try CLI.requireModel()
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = "Alpha beta gamma. Café crème for everyone. The secret word is zebracorn today. Delta epsilon zeta.\n"
        let input = dir.appendingPathComponent("short.txt").path
        try text.write(toFile: input, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("short.h5").path
        let r = try CLI.run(["trace", "--input", input, "--max-tokens", "1", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("as it is"), r.stderr)
        let a = try attributes(out, ["document_tokens", "input_tokens", "input_repeats"])
        XCTAssertEqual(a["document_tokens"], a["input_tokens"], "the trace holds exactly the file")
        XCTAssertLessThan(a["document_tokens"]!, 60)
        XCTAssertEqual(a["input_repeats"], 1)

        // Word -> character offset -> the chunk token starting there -> key -> `inspect --key` -> word.
        let chars = try JSONDecoder().decode(Selected.self, from: Data(try CLI.run(["inspect", out, "--select", "input/chunk_token_char", "--json"]).stdout.utf8)).values
        let scalars = Array(text.unicodeScalars)
        let target = Array("zebracorn".unicodeScalars)
        let charIndex = (0...(scalars.count - target.count)).first { Array(scalars[$0..<($0 + target.count)]) == target }!
        // One chunk, kept whole: key k is its k-th prefilled token.
        let key = chars.lastIndex { $0 >= 0 && Int($0) <= charIndex }!
        let k = try CLI.run(["inspect", out, "--key", String(key), "--json"])
        XCTAssertEqual(k.status, 0, k.stderr)
        let origin = try JSONDecoder().decode(KeyText.self, from: Data(k.stdout.utf8))
        XCTAssertEqual(origin.kind, "document")
        XCTAssertEqual(origin.chunk_token, key)
        XCTAssertFalse(origin.token.trimmingCharacters(in: .whitespaces).isEmpty)
        XCTAssertTrue("zebracorn".hasPrefix(origin.token.trimmingCharacters(in: .whitespaces)), origin.token)
        XCTAssertTrue((origin.before + origin.token + origin.after).contains("secret word is zebracorn"))
        // The first key is the BOS, not text.
        let bos = try CLI.run(["inspect", out, "--key", "0", "--json"])
        XCTAssertTrue(bos.stdout.contains("\"kind\":\"prompt\""), bos.stdout + bos.stderr)
        let plain = try CLI.run(["inspect", out, "--key", String(key)])
        XCTAssertTrue(plain.stdout.contains("[[" + origin.token + "]]"), plain.stdout)

        // A longer --context needs --repeat, and says so.
        let refused = try CLI.run(["trace", "--input", input, "--context", "1024", "-o", dir.appendingPathComponent("r.h5").path])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("--repeat"), refused.stderr)
        let repeated = try CLI.run(["trace", "--input", input, "--context", "512", "--repeat", "--max-tokens", "1", "-o", dir.appendingPathComponent("r.h5").path])
        XCTAssertEqual(repeated.status, 0, repeated.stderr)
        XCTAssertTrue(repeated.stderr.contains("repeated"), repeated.stderr)
        let b = try attributes(dir.appendingPathComponent("r.h5").path, ["document_tokens", "input_repeats"])
        XCTAssertEqual(b["document_tokens"], 512)
        XCTAssertGreaterThan(b["input_repeats"]!, 10)
    }

    struct Selected: Decodable { let values: [Double] }
    struct KeyText: Decodable { let kind: String; let chunk_token: Int; let token: String; let before: String; let after: String }

    func testExistingTraceIsReplacedOnlyWithForce() throws {
        try CLI.requireModel()
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let trace = try CLI.goldenTrace(in: dir)
        let layout = dir.appendingPathComponent("golden_layout.json").path
        let before = try Data(contentsOf: URL(fileURLWithPath: trace))
        let refused = try CLI.run(["trace", "--token-layout", layout, "--max-tokens", "1", "--quiet", "-o", trace])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("--force"), refused.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: trace)), before)
        let forced = try CLI.run(["trace", "--token-layout", layout, "--max-tokens", "1", "--quiet", "--force", "-o", trace])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: trace)), before)
    }

    func testConfigInTheJSONReportWrapperIsRead() throws {
        try CLI.requireModel()
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ctx = dir.appendingPathComponent("ctx.txt").path
        try String(repeating: "The sky is blue. ", count: 200).write(toFile: ctx, atomically: true, encoding: .utf8)
        let cfg = dir.appendingPathComponent("report.json").path
        try #"{"config": {"keepChunks": 2, "chunkTokens": 256}, "format": {"anything": 1}, "documentTokens": 5}"#.write(toFile: cfg, atomically: true, encoding: .utf8)
        let r = try CLI.run(["run", "--input", ctx, "--question", "Why?", "--config", cfg, "--max-tokens", "1", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        struct Report: Decodable { struct C: Decodable { let keepChunks: Int; let chunkTokens: Int? }; let config: C }
        let report = try JSONDecoder().decode(Report.self, from: Data(r.stdout.utf8))
        XCTAssertEqual(report.config.keepChunks, 2)
        XCTAssertEqual(report.config.chunkTokens, 256)
    }

    /// Ctrl-C while an 8K-token chunk is being prefilled: "stopping…" at once, exit 130 within
    /// about a second, and no file left behind (neither the trace nor its temporary file).
    func testCtrlCStopsAnEightKChunkTraceAtOnce() throws {
        try CLI.requireModel()
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("long.h5").path
        let p = try Child(["trace", "--context", "16k", "--chunk-tokens", "8192", "--split-by", "tokens", "-o", out])
        // The first chunk's prefill is under way once the plan is out and the process has spent a
        // second of CPU since (that prefill takes tens of CPU seconds).
        p.waitForStderr { $0.contains("memory estimate") }
        p.waitForCPU(1, from: p.cpuSeconds)
        XCTAssertTrue(p.isRunning, "the trace ended before it could be interrupted: \(p.stderr.text)")
        XCTAssertFalse(p.stderr.text.contains("1/"), "the first chunk was done before the interrupt: \(p.stderr.text)")
        XCTAssertTrue(try FileManager.default.contentsOfDirectory(atPath: dir.path).contains { $0.hasPrefix(".long.h5.tmp-") },
                      "the temporary output should exist from the start")
        let t0 = Date()
        kill(p.process.processIdentifier, SIGINT)
        guard p.waitForExit(deadline: 60) else { return XCTFail("no exit within 60 s of SIGINT") }
        let seconds = Date().timeIntervalSince(t0)
        print(String(format: "SIGINT to exit: %.2f s", seconds))
        XCTAssertEqual(p.process.terminationStatus, 130)
        let log = p.stderr.text
        XCTAssertTrue(log.contains("stopping"), log)
        XCTAssertLessThan(seconds, 2, "Ctrl-C took \(seconds) s to act")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "files left behind")
    }
}
