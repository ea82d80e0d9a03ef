import Foundation
import XCTest

/// The claims runners share an example's finished chunk passes (`ChunkPassMemo`): one quick
/// example with the memo and without it (`--no-reuse-scores`) must give the same row, every
/// number to the last bit; only the example's seconds may differ.
final class ClaimsPassMemoTests: XCTestCase {
    func testReusedPassesChangeNoNumber() throws {
        try CLI.requireModel()
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        func row(_ extra: [String], _ name: String) throws -> (line: String, log: String) {
            let out = dir.appendingPathComponent(name)
            let r = try CLI.run(["claims", "run", "--model", CLI.modelPath, "--quick", "--examples", "1", "--threads", "1",
                                 "--out-dir", out.path] + extra, environment: ["BIASPROBE_CLAIMS_TIMING": "1"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let lines = try String(contentsOf: out.appendingPathComponent("examples.jsonl"), encoding: .utf8)
                .split(separator: "\n").filter { $0.hasPrefix("{") }
            XCTAssertEqual(lines.count, 1)
            // The row's JSON text as written, without its wall time (sorted keys: same row, same text).
            let line = String(lines.first ?? "").replacingOccurrences(of: #""seconds":[-0-9.eE+]+,?"#, with: "", options: .regularExpression)
            return (line, r.stderr)
        }
        let reused = try row([], "memo"), fresh = try row(["--no-reuse-scores"], "fresh")
        // The memo was used: most essay runs repeat the official run's chunk passes.
        let hits = reused.log.range(of: #"(\d+) chunk passes reused"#, options: .regularExpression)
            .flatMap { Int(reused.log[$0].split(separator: " ")[0]) } ?? 0
        XCTAssertGreaterThan(hits, 10, "the memo took no passes:\n\(reused.log)")
        XCTAssertFalse(fresh.log.contains("chunk passes reused"), "--no-reuse-scores must not use the memo")
        XCTAssertFalse(reused.line.contains("\"seconds\""))
        XCTAssertEqual(reused.line, fresh.line, "a reused chunk pass changed the example's numbers")
    }
}
