import XCTest
import Foundation

/// `--first-seed` extends an earlier run: its examples are the very ones a longer run holds.
/// Runs compared with runs use the tiny test model.
final class EvalSeedsTests: XCTestCase {
    func lines(_ args: [String]) throws -> [[String: Any]] {
        let r = try CLI.run(["eval", "passkey", "--model", try TinyModel.path(), "--lengths", "256", "--chunk-tokens", "128",
                             "--depths", "0.5", "--quiet", "--json"] + args)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["summary"] == nil }
    }

    func testFirstSeedRepeatsTheLongerRunsExample() throws {
        let both = try lines(["--seeds", "2"])
        let second = try lines(["--seeds", "1", "--first-seed", "1"])
        XCTAssertEqual(both.map { $0["seed"] as? Int }, [0, 1])
        XCTAssertEqual(second.map { $0["seed"] as? Int }, [1])
        XCTAssertNotEqual(both[0]["expected"] as? String, both[1]["expected"] as? String, "seeds draw different keys")
        for key in ["expected", "answer", "correct"] {
            XCTAssertEqual("\(both[1][key] ?? "nil")", "\(second[0][key] ?? "nil")", key)
        }
    }

    /// A shard part records its seed range: a part of seeds 0..<1 is not resumed as seeds 1..<2.
    func testShardPartRemembersTheFirstSeed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("firstseed-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("e.jsonl").path
        let common = ["eval", "passkey", "--model", try TinyModel.path(), "--lengths", "256", "--chunk-tokens", "128", "--depths", "0.5",
                      "--quiet", "--shard", "1/1", "--out", out]
        XCTAssertEqual(try CLI.run(common).status, 0)
        let again = try CLI.run(common + ["--first-seed", "1"])
        XCTAssertNotEqual(again.status, 0, "a part of seed 0 was resumed as seed 1")
        XCTAssertTrue(again.stderr.contains("settings"), again.stderr)
    }

    func testNegativeFirstSeedIsRefused() throws {
        let r = try CLI.run(["eval", "passkey", "--first-seed=-1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--first-seed must be at least 0"), r.stderr)
    }

    /// `--json` lines reach a file as each example ends (stdout is line-buffered; stdio would
    /// otherwise hold them until exit), so a killed run keeps what it printed: the first line must
    /// be in the file while the process still has work left.
    func testJSONLinesReachAFileWhileRunning() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lines-\(UUID().uuidString).jsonl").path
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = ["eval", "passkey", "--model", CLI.modelPath, "--lengths", "256", "--chunk-tokens", "128",
                       "--seeds", "2", "--quiet", "--json"]   // 10 examples, under 4 KB of output in all
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        p.standardError = FileHandle.nullDevice
        try p.run()
        var text = ""
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning && Date() < deadline {
            text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            if text.contains("\n") { break }
            usleep(20_000)
        }
        let stillRunning = p.isRunning
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertTrue(stillRunning && text.contains("\n"), "no --json line reached the file before the process ended")
        let first = try XCTUnwrap(text.split(separator: "\n").first)
        let row = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any])
        XCTAssertNotNil(row["correct"], String(first))
    }
}
