import Foundation
import XCTest

/// The official ParallelComp pipeline, pinned by an independent float64 implementation of it
/// (`../shared/golden/parallelcomp_official_v2.json`, 17 cases, described in its README): every
/// case runs through `biasprobe run --json` as a user would, with a flag only where the case's
/// setting differs from the official default, so a changed default fails here. Token-level cases
/// go in as a `--token-layout`, text-level cases as the raw context and question (the official
/// split, templates and length budget). Comparisons are two-sided: every layer and head of every
/// eviction is compared, so an eviction where the reference has none fails. Tolerances are the
/// issue's: chunk NLLs 1e-4, logits 2e-3; token ids, kept chunks, P, S, evicted and kept keys and
/// the greedy answer exact.
final class OfficialPipelineTests: XCTestCase {
    nonisolated(unsafe) static let fixture: [String: Any] = {
        let data = (try? Data(contentsOf: CLI.goldenDir.appendingPathComponent("parallelcomp_official_v2.json"))) ?? Data()
        return ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any]) ?? [:]
    }()

    static func ints(_ a: Any?) -> [Int] { (a as? [NSNumber])?.map(\.intValue) ?? [] }
    static func doubles(_ a: Any?) -> [Double] { (a as? [NSNumber])?.map(\.doubleValue) ?? [] }
    /// [layer][head] -> keys, or [] when absent / null (nothing evicted).
    static func grid(_ a: Any?) -> [[[Int]]] { (a as? [[[NSNumber]]])?.map { $0.map { $0.map(\.intValue).sorted() } } ?? [] }
    /// An absent or empty grid and a grid of empty lists both mean "nothing evicted".
    static func evictedNothing(_ g: [[[Int]]]) -> Bool { g.allSatisfy { $0.allSatisfy(\.isEmpty) } }

    /// Flags for the case's settings that differ from the official defaults (keep 3, lowest NLL,
    /// lambda 0.1, band width 100, 1 calibration row, all question tokens scored, SnapKV window 8
    /// and kernel 7, per-chunk compression); the answer length is always given.
    static func flags(_ s: [String: Any]) -> [String] {
        var a = ["--max-tokens", "\(s["max_new"]!)"]
        let keep = s["keep"] as! Int
        if keep != 3 { a += ["--keep-chunks", "\(keep)"] }
        if (s["topk_windows"] as! Int) > 0 { a += ["--select", "highest"] }
        if (s["lam"] as! NSNumber).doubleValue != 0.1 { a += ["--lambda", "\(s["lam"]!)"] }
        if (s["band_width"] as! Int) != 100 { a += ["--band-width", "\(s["band_width"]!)"] }
        if (s["calib_rows"] as! Int) != 1 { a += ["--calibration-rows", "\(s["calib_rows"]!)"] }
        if (s["query_recent_tokens"] as! Int) != 0 { a += ["--score-tokens", "\(s["query_recent_tokens"]!)"] }
        let cal = (s["calibration_strings"] as? [String]) ?? []
        if !cal.isEmpty { a += ["--calibration", cal.joined(separator: ",")] }
        if let cap = s["capacity"] as? Int {
            a += ["--capacity", "\(cap)"]
            if (s["window"] as! Int) != 8 { a += ["--window", "\(s["window"]!)"] }
            if (s["kernel"] as! Int) != 7 { a += ["--kernel", "\(s["kernel"]!)"] }
            if s["stage_eviction"] as? Bool == true { a += ["--compression-stage", "question"] }
            if s["kv_cache_dynamic"] as? Bool == true { a += ["--kv-cache-dynamic"] }
        }
        return a
    }

    /// Runs one case: a token layout, or (text cases) the raw context with Cw, R and the pass-key
    /// template; the split and prompt layout are left at their defaults.
    func run(case c: [String: Any], in dir: URL) throws -> [String: Any] {
        let input = c["input"] as! [String: Any], settings = c["settings"] as! [String: Any]
        let name = c["name"] as! String
        var args = ["run", "--json", "--quiet"] + Self.flags(settings)
        if settings["text"] is [String: Any] {
            let ctx = dir.appendingPathComponent("\(name).txt")
            try (input["context_text"] as! String).write(to: ctx, atomically: true, encoding: .utf8)
            XCTAssertEqual(input["templates"] as? [String: String],
                           ["context": "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will quiz you about the important information there.\n\n{context}",
                            "question": "\nNow please answer: {input}\nPlease tell me the number: "], "\(name): the pass-key templates changed")
            args += ["--input", ctx.path, "--question", input["question_text"] as! String,
                     "--chunk-tokens", "\(input["Cw"]!)", "--raw-model-max-len", "\(input["R"]!)", "--template", "passkey"]
        } else {
            let layout = dir.appendingPathComponent("\(name).json")
            try JSONSerialization.data(withJSONObject: ["chunks": input["chunk_ids"]!, "question": input["question_ids"]!]).write(to: layout)
            args += ["--token-layout", layout.path]
        }
        let r = try CLI.run(args)
        XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], name)
    }

    func testEveryOfficialCase() throws {
        try CLI.requireModel()
        let cases = try XCTUnwrap(Self.fixture["cases"] as? [[String: Any]], "parallelcomp_official_v2.json is missing")
        XCTAssertEqual(cases.count, 17)
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var worst: [String] = []
        for c in cases {
            let name = c["name"] as! String
            let out = c["output"] as! [String: Any], e = out["expect"] as! [String: Any]
            let o = try run(case: c, in: dir)
            // The input side: every chunk pass's tokens, its question part, the final question.
            let chunks = (o["result"] as? [String: Any])?["chunks"] as? [[String: Any]] ?? []
            XCTAssertEqual(chunks.map { Self.ints($0["tokens"]) }, (e["chunk_token_ids"] as! [Any]).map(Self.ints), "\(name) chunk token ids")
            XCTAssertEqual((o["chunk_question_ids"] as? [Any] ?? []).map(Self.ints), (e["chunk_question_ids"] as! [Any]).map(Self.ints), "\(name) chunk passes' question ids")
            XCTAssertEqual(Self.ints(o["question_ids"]), Self.ints(e["question_ids"]), "\(name) final question")
            // Scores, selection, the combined cache.
            let nll = Self.doubles(o["chunk_nll"]), gold = Self.doubles(e["chunk_nll"])
            XCTAssertEqual(nll.count, gold.count, "\(name) chunk count")
            let nllErr = zip(nll, gold).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(nllErr, 1e-4, "\(name) chunk NLL")
            XCTAssertEqual(Self.ints(o["kept"]), Self.ints(e["kept"]), "\(name) kept")
            XCTAssertEqual(o["P"] as? Int, e["P"] as? Int, "\(name) P")
            XCTAssertEqual(o["S"] as? Int, e["S"] as? Int, "\(name) S")
            XCTAssertEqual(Self.ints(o["S_per_layer"]), Self.ints(e["S_per_layer"]), "\(name) S per layer")
            // The last question row and every decode step: the reference's top 20 within 2e-3.
            var logitErr = try topError(name: "\(name) last row", ours: (Self.ints(o["top20_ids"]), Self.doubles(o["top20_logits"])),
                                        gold: (Self.ints(e["top20_ids"]), Self.doubles(e["top20_logits"])))
            let steps = out["decode_steps"] as? [[String: Any]] ?? []
            let ourSteps = o["decode_top20"] as? [[String: Any]] ?? []
            XCTAssertEqual(ourSteps.count, steps.count, "\(name) decode steps")
            for (t, (mine, ref)) in zip(ourSteps, steps).enumerated() {
                logitErr = max(logitErr, try topError(name: "\(name) decode step \(t)", ours: (Self.ints(mine["ids"]), Self.doubles(mine["logits"])),
                                                       gold: (Self.ints(ref["top20_ids"]), Self.doubles(ref["top20_logits"]))))
            }
            XCTAssertEqual(Self.ints(o["answer_ids"]), Self.ints(e["answer_ids"]), "\(name) greedy answer")
            checkEvictions(name: name, ours: o, expect: e, output: out)
            worst.append(String(format: "%@: NLL %.1e, logits %.1e", name, nllErr, logitErr))
        }
        print("official cases, worst errors:\n  " + worst.joined(separator: "\n  "))
    }

    /// The largest |ours - reference| over the reference's top 20; a reference id missing from our
    /// top 20 fails.
    func topError(name: String, ours: ([Int], [Double]), gold: ([Int], [Double])) throws -> Double {
        let mine = Dictionary(uniqueKeysWithValues: zip(ours.0, ours.1))
        var worst = 0.0
        XCTAssertEqual(gold.0.count, 20, name)
        for (id, logit) in zip(gold.0, gold.1) {
            guard let m = mine[id] else { XCTFail("\(name): token \(id) of the reference's top 20 is not in ours"); return .infinity }
            worst = max(worst, abs(m - logit))
            XCTAssertEqual(m, logit, accuracy: 2e-3, "\(name): logit of \(id)")
        }
        return worst
    }

    /// Every eviction, two-sided: question stage, chunk stage (every chunk pass), stage_eviction,
    /// decode-time per step, and SnapKV's kept keys.
    func checkEvictions(name: String, ours o: [String: Any], expect e: [String: Any], output: [String: Any]) {
        let mine = o["evicted"] as? [String: Any] ?? [:], want = e["evicted"] as! [String: Any]
        for stage in ["query", "stage"] {
            let a = Self.grid(mine[stage]), b = Self.grid(want[stage])
            if Self.evictedNothing(a) && Self.evictedNothing(b) { continue }
            XCTAssertEqual(a, b, "\(name): \(stage) evictions")
        }
        let ac = (mine["chunk"] as? [String: Any] ?? [:]).mapValues(Self.grid).filter { !Self.evictedNothing($0.value) }
        let bc = (want["chunk"] as? [String: Any] ?? [:]).mapValues(Self.grid).filter { !Self.evictedNothing($0.value) }
        XCTAssertEqual(ac, bc, "\(name): chunk-stage evictions")
        let ad = (mine["decode"] as? [Any] ?? []).map(Self.grid), bd = (want["decode"] as? [Any] ?? []).map(Self.grid)
        XCTAssertEqual(ad, bd, "\(name): decode-time evictions per step")
        let snapWant: [String: Any] = (e["snapkv_kept"] as? String) != nil
            ? ((output["snapkv"] as? [String: Any])?["kept_local"] as? [String: Any] ?? [:])
            : (e["snapkv_kept"] as? [String: Any] ?? [:])
        let snapMine = o["snapkv_kept"] as? [String: Any] ?? [:]
        XCTAssertEqual(snapMine.mapValues(Self.grid), snapWant.mapValues(Self.grid), "\(name): SnapKV kept keys")
    }
}
