import Foundation
import XCTest

/// The official ParallelComp pipeline, pinned by an independent float64 implementation of it
/// (`../shared/golden/parallelcomp_official.json`, described in its README): every case runs
/// through `biasprobe run --token-layout L.json --json` with the fixture's settings as flags,
/// as a user would check another case. Tolerances are the issue's: chunk NLLs 1e-4, logits 2e-3,
/// kept chunks, P, S, evicted and SnapKV-kept keys and the greedy answer exact.
final class OfficialPipelineTests: XCTestCase {
    nonisolated(unsafe) static let fixture: [String: Any] = {
        let data = (try? Data(contentsOf: CLI.goldenDir.appendingPathComponent("parallelcomp_official.json"))) ?? Data()
        return ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any]) ?? [:]
    }()

    static func ints(_ a: Any?) -> [Int] { (a as? [NSNumber])?.map(\.intValue) ?? [] }

    /// The fixture's settings as command-line flags (the official flag strings for calibration).
    static func flags(_ s: [String: Any]) -> [String] {
        var a = ["--keep-chunks", "\(s["keep"]!)", "--select", (s["topk_windows"] as! Int) < 0 ? "lowest" : "highest",
                 "--lambda", "\(s["lam"]!)", "--band-width", "\(s["band_width"]!)", "--calibration-rows", "\(s["calib_rows"]!)",
                 "--max-tokens", "\(s["max_new"]!)", "--score-tokens", "\(s["query_recent_tokens"]!)"]
        let cal = (s["calibration_strings"] as? [String]) ?? []
        if !cal.isEmpty { a += ["--calibration", cal.joined(separator: ",")] }
        if let cap = s["capacity"] as? Int { a += ["--capacity", "\(cap)", "--window", "\(s["window"]!)", "--kernel", "\(s["kernel"]!)"] }
        return a
    }

    func run(case c: [String: Any], in dir: URL) throws -> [String: Any] {
        let input = c["input"] as! [String: Any]
        let layout = dir.appendingPathComponent("\(c["name"]!).json")
        try JSONSerialization.data(withJSONObject: ["chunks": input["chunk_ids"]!, "question": input["question_ids"]!]).write(to: layout)
        let r = try CLI.run(["run", "--token-layout", layout.path, "--json", "--quiet"] + Self.flags(c["settings"] as! [String: Any]))
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }

    func testEveryOfficialCase() throws {
        try CLI.requireModel()
        let cases = try XCTUnwrap(Self.fixture["cases"] as? [[String: Any]], "parallelcomp_official.json is missing")
        XCTAssertEqual(cases.count, 7)
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        for c in cases {
            let name = c["name"] as! String
            let g = c["output"] as! [String: Any], o = try run(case: c, in: dir)
            // Chunk scores (official formula), selection, layout of the combined cache.
            let nll = (o["chunk_nll"] as! [NSNumber]).map(\.doubleValue)
            let gold = (g["chunks"] as! [[String: Any]]).map { ($0["nll_official"] as! NSNumber).doubleValue }
            XCTAssertEqual(nll.count, gold.count, name)
            for (i, (a, b)) in zip(nll, gold).enumerated() { XCTAssertEqual(a, b, accuracy: 1e-4, "\(name) chunk \(i) NLL") }
            XCTAssertEqual(Self.ints(o["kept"]), Self.ints(g["kept"]), "\(name) kept")
            XCTAssertEqual(o["P"] as? Int, g["P"] as? Int, "\(name) P")
            XCTAssertEqual(o["S"] as? Int, g["S"] as? Int, "\(name) S")
            XCTAssertEqual(Self.ints(o["S_per_layer"]), Self.ints(g["S_per_layer"]), "\(name) S per layer")
            XCTAssertEqual(Self.ints(o["question_ids"]), Self.ints(g["qf"]), "\(name) final question [BOS q]")
            // The last question row: the reference's top 20 by our logits, within 2e-3 each.
            let top = g["last_row_top20"] as! [String: Any]
            let ours = Dictionary(uniqueKeysWithValues: zip(Self.ints(o["top20_ids"]), (o["top20_logits"] as! [NSNumber]).map(\.doubleValue)))
            for (id, logit) in zip(Self.ints(top["ids"]), (top["logits"] as! [NSNumber]).map(\.doubleValue)) {
                guard let mine = ours[id] else { XCTFail("\(name): token \(id) of the reference's top 20 is not in ours"); continue }
                XCTAssertEqual(mine, logit, accuracy: 2e-3, "\(name) logit of \(id)")
            }
            XCTAssertEqual(Self.ints(o["answer_ids"]), Self.ints(g["greedy_ids"]), "\(name) greedy answer")
            try checkEvictions(name: name, ours: o, gold: g)
        }
    }

    /// Evicted keys per layer and head (question stage: indices into [combined cache ; BOS q];
    /// chunk stage: chunk-local), and SnapKV's kept keys, must be the reference's sets exactly.
    func checkEvictions(name: String, ours o: [String: Any], gold g: [String: Any]) throws {
        let ev = o["evicted"] as? [String: Any] ?? [:]
        if let cq = g["calib_query"] as? [String: Any] {
            let mine = try XCTUnwrap(ev["query"] as? [[[NSNumber]]], "\(name): no question-stage evictions reported")
            var want = Array(repeating: Array(repeating: [Int](), count: mine.first?.count ?? 0), count: mine.count)
            for layer in cq["layers"] as! [[String: Any]] {
                let l = layer["layer"] as! Int
                for (h, keys) in (layer["evicted"] as! [[NSNumber]]).enumerated() { want[l][h] = keys.map(\.intValue).sorted() }
            }
            XCTAssertEqual(mine.map { $0.map { $0.map(\.intValue) } }, want, "\(name): question-stage evictions")
        }
        if let cc = g["calib_chunk"] as? [String: Any] {
            let mine = try XCTUnwrap(ev["chunk"] as? [String: [[[NSNumber]]]], "\(name): no chunk-stage evictions reported")
            for ch in cc["chunks"] as! [[String: Any]] {
                let id = ch["chunk"] as! Int
                let m = try XCTUnwrap(mine[String(id)], "\(name): chunk \(id) has no evictions").map { $0.map { $0.map(\.intValue) } }
                var want = Array(repeating: Array(repeating: [Int](), count: m.first?.count ?? 0), count: m.count)
                for layer in ch["layers"] as! [[String: Any]] {
                    let l = layer["layer"] as! Int
                    let out = layer["outliers"] as! [[NSNumber]], pads = layer["pads"] as! [[NSNumber]]
                    for h in out.indices { want[l][h] = (out[h] + pads[h]).map(\.intValue).sorted() }
                }
                XCTAssertEqual(m, want, "\(name): chunk \(id) evictions")
            }
        }
        if let snap = g["snapkv"] as? [String: Any] {
            let mine = try XCTUnwrap(o["snapkv_kept"] as? [String: [[[NSNumber]]]], "\(name): no SnapKV keys reported")
            let want = snap["kept_local"] as! [String: [[[NSNumber]]]]
            XCTAssertEqual(Set(mine.keys), Set(want.keys), "\(name): SnapKV chunks")
            for (k, v) in want {
                XCTAssertEqual(mine[k]?.map { $0.map { $0.map(\.intValue) } }, v.map { $0.map { $0.map(\.intValue).sorted() } }, "\(name): SnapKV chunk \(k)")
            }
        }
    }
}
