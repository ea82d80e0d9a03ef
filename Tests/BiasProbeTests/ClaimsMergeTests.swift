import Foundation
import Heatmap
import ProbeAnalysis
import XCTest

/// `biasprobe claims merge` on hand-written parts (no model): two shards merge into the table a
/// single part of the same rows gives, and a missing shard is refused naming it.
final class ClaimsMergeTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("claims-merge-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { if let dir { try? FileManager.default.removeItem(at: dir) } }

    let settings = #"{"command":"claims","heads":3,"layers":2,"modelName":"synthetic","settings":{"chunkCounts":[2,3],"continuationCounts":[1,4],"continuationTokens":16,"continuationWidth":64,"examples":12,"model":"m.gguf","passkeyChunk":192,"passkeyTokens":384,"seed":7,"smallWidth":32,"width":128}}"#

    /// Per-example arrays the figures are drawn from (empty: only the T11 and T18 figures).
    var arrays = "{}"

    func row(_ i: Int) -> String {
        let t3 = 0.6 + 0.02 * Double(i % 5), t4 = 0.3 + 0.01 * Double(i % 3)
        return #"{"arrays":\#(arrays),"claims":{"T3":{"value":\#(t3)},"T4":{"value":\#(t4),"share_unmatched":0.1}},"example":{"chunks":2,"index":\#(i),"offset":\#(i * 10),"passkeyDepth":0,"passkeySeed":\#(i),"question":"q"},"seconds":\#(i)}"#
    }

    func writePart(_ folder: URL, shard: String, items: [Int], done: [Int]? = nil) throws {
        let header: [String: Any] = ["format": "biasprobe-eval-part", "version": 1, "shard": shard, "settings": settings, "modelSHA256": "ab",
                                     "workList": "w", "totalItems": 12, "items": items, "host": "h"]
        var text = String(decoding: try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]), as: UTF8.self) + "\n"
        for i in done ?? items { text += "{\"item\":\(i),\"peak_rss_bytes\":1000,\"row\":\(row(i))}\n" }
        let n = shard.split(separator: "/")
        try text.write(to: folder.appendingPathComponent("examples.part-\(n[0])-of-\(n[1]).jsonl"), atomically: true, encoding: .utf8)
    }

    /// An unfinished run: a plain merge is refused, `--partial` writes an interim report that
    /// says so and names the examples it holds.
    func testPartialMergeIsMarkedInterim() throws {
        try writePart(dir, shard: "1/2", items: Array(0..<6), done: [0, 1, 2])
        try writePart(dir, shard: "2/2", items: Array(6..<12), done: [6, 7])
        let out = dir.appendingPathComponent("examples.jsonl").path
        let refused = try CLI.run(["claims", "merge", out])
        XCTAssertNotEqual(refused.status, 0); XCTAssertTrue(refused.stderr.contains("incomplete"), refused.stderr)
        let r = try CLI.run(["claims", "merge", "--partial", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let md = try String(contentsOf: dir.appendingPathComponent("claims.md"), encoding: .utf8)
        XCTAssertTrue(md.contains("Interim report: 5 of the 12 examples of this run are done** (examples 0, 1, 2, 6, 7)"), md)
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").count, 5)
    }

    func testShardsMergeIntoTheSameTable() throws {
        let one = dir.appendingPathComponent("one"), two = dir.appendingPathComponent("two")
        for d in [one, two] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        try writePart(one, shard: "1/1", items: Array(0..<12))
        try writePart(two, shard: "1/2", items: [0, 2, 4, 6, 8, 10])
        try writePart(two, shard: "2/2", items: [1, 3, 5, 7, 9, 11])
        for d in [one, two] {
            let r = try CLI.run(["claims", "merge", d.appendingPathComponent("examples.jsonl").path])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let a = try String(contentsOf: one.appendingPathComponent("claims.json"), encoding: .utf8)
        let b = try String(contentsOf: two.appendingPathComponent("claims.json"), encoding: .utf8)
        XCTAssertEqual(a, b)
        XCTAssertEqual(try String(contentsOf: one.appendingPathComponent("examples.jsonl"), encoding: .utf8),
                       try String(contentsOf: two.appendingPathComponent("examples.jsonl"), encoding: .utf8))
        let md = try String(contentsOf: two.appendingPathComponent("claims.md"), encoding: .utf8)
        func row(_ id: String) -> String { md.split(separator: "\n").first { $0.hasPrefix("| **\(id)** |") }.map(String.init) ?? "" }
        // T3's 12 values lie in 0.6...0.68: beyond 0.5 + 0.05, raw and after Holm.
        // (the secondary column: none of T3's secondary keys is in the synthetic rows)
        XCTAssertTrue(row("T3").hasSuffix("| 12 (12) | — | — | **holds** | **holds** |"), md)
        XCTAssertTrue(row("T4").hasSuffix("| 12 (12) | — | — | **fails** | **fails** |"), md)
        XCTAssertTrue(md.contains("claims protocol v\(ClaimProtocol.version) (\(ClaimProtocol.date)), docs/claims-protocol.md sha256 \(ClaimProtocol.sha256)"), "claims.md must name the protocol and its hash")
    }

    func testEveryFigureIsWrittenAsPNGAndAsSVG() throws {
        // T10's maps (2 layers x 3 heads) and T12's profile, so all four figures are drawn.
        arrays = #"{"t10_lambda_0.1":[0,1,2,3,4,5],"t10_lambda_0.3":[5,4,3,2,1,0],"t12_profile":[0.5,0.2,0.1,0.05,0.02]}"#
        try writePart(dir, shard: "1/1", items: Array(0..<12))
        let r = try CLI.run(["claims", "merge", dir.appendingPathComponent("examples.jsonl").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        for name in ["t10_outliers", "t11_concentration", "t12_decay", "t18_nll_chunks"] {
            let png = try PNG.read(dir.appendingPathComponent(name + ".png").path)
            let svg = try SVGCells(path: dir.appendingPathComponent(name + ".svg").path)
            XCTAssertEqual(svg.size, "\(png.width)x\(png.height)", name)
            XCTAssertTrue(svg.texts.contains { $0.hasPrefix(name.prefix(3).uppercased() + ":") }, "\(name): \(svg.texts)")
            if name == "t10_outliers" {
                XCTAssertEqual(svg.cells.count, 2 * 2 * 3, "two 2 x 3 maps with no equal neighbours: nothing merges")
                for (rect, colour) in svg.cells { XCTAssertEqual(png[rect.midX, rect.midY], colour, "\(rect)") }
            }
        }
    }

    func testMissingShardIsRefused() throws {
        try writePart(dir, shard: "1/2", items: [0, 2, 4, 6, 8, 10])
        let r = try CLI.run(["claims", "merge", dir.appendingPathComponent("examples.jsonl").path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("no part for shard 2/2"), r.stderr)
    }
}
