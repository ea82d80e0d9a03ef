import XCTest
import PCInference

/// The lab's decode-time eviction (`--decode-eviction`): TOVA and H2O step by step.
final class DecodeStepEvictionTests: XCTestCase {
    private func step(_ s: LabDecodeEvictionState, newKey: Int, rows: [[Float]]) -> [[Int]] {
        s.step(layer: 0, newKey: newKey) { rows[$0][...] }
    }

    /// TOVA drops the key with the lowest attention averaged over the layer's heads, the same key
    /// for every head, even where one head alone would drop another; the newest key competes too.
    func testTOVADropsTheLowestHeadMean() {
        let s = LabDecodeEvictionState(layers: 1, heads: 2, present: [[0, 1, 2, 3], [0, 1, 2, 3]]) { TOVADecodeEviction(keep: $0) }
        // Means: key 0 0.35, key 1 0.15, key 2 0.105, key 3 0.145, key 4 0.25. Head 0 alone would drop key 1.
        let gone = step(s, newKey: 4, rows: [[0.30, 0.05, 0.20, 0.15, 0.30], [0.40, 0.25, 0.01, 0.14, 0.20]])
        XCTAssertEqual(gone, [[2], [2]])
        XCTAssertEqual(s.present, [[0, 1, 3, 4], [0, 1, 3, 4]])
        // The newest token attends to itself least: it is the one that goes.
        let gone2 = step(s, newKey: 5, rows: [[0.5, 0.2, 0, 0.1, 0.19, 0.01], [0.5, 0.2, 0, 0.1, 0.18, 0.02]])
        XCTAssertEqual(gone2, [[5], [5]])
        XCTAssertEqual(s.budget, [4, 4])
        XCTAssertEqual(s.present.map(\.count), [4, 4])
    }

    /// H2O keeps the planted heavy hitter and the recent window; a key is evicted once it leaves
    /// the window if its accumulated attention is the lowest.
    func testH2OKeepsHeavyHittersAndTheRecentWindow() {
        let s = LabDecodeEvictionState(layers: 1, heads: 1, present: [[0, 1, 2, 3]], accumulated: [[1.0, 0.1, 0.5, 0.0]]) {
            H2ODecodeEviction(keep: $0, recent: 2)
        }
        // Sums 1.1, 0.1, 0.5 | 0.6, 0.3 (keys 3 and 4 are the window): key 1 goes.
        XCTAssertEqual(step(s, newKey: 4, rows: [[0.1, 0, 0, 0.6, 0.3]]), [[1]])
        // Sums 1.1, 0.5, 0.7 | 0.3, 0.9: key 2 goes, though key 4 holds less (it is in the window).
        XCTAssertEqual(step(s, newKey: 5, rows: [[0, 0, 0, 0.1, 0, 0.9]]), [[2]])
        // Key 4 has left the window with the lowest sum (0.3): it goes; the heavy hitter stays.
        XCTAssertEqual(step(s, newKey: 6, rows: [[0, 0, 0, 0, 0, 0, 1]]), [[4]])
        XCTAssertEqual(s.present, [[0, 3, 5, 6]])
        XCTAssertEqual(s.accumulated[0][0], 1.1, accuracy: 1e-6)
    }

    /// Only TOVA and H2O define decode-time eviction; settings stored before the switch load.
    func testSettingsRefuseOtherPoliciesAndOldSettingsLoad() throws {
        XCTAssertThrowsError(try EvictionLabSettings(kind: .snapkv, budget: 64, decodeEviction: true).check())
        XCTAssertNoThrow(try EvictionLabSettings(kind: .h2o, budget: 64, recent: 8, decodeEviction: true).check())
        let old = try JSONDecoder().decode(EvictionLabSettings.self, from: Data(#"{"kind":"tova","budget":64,"sink":4,"recent":8}"#.utf8))
        XCTAssertFalse(old.decodeEviction)
        // A stored sink is an explicit one (the lab's default before the per-policy reference).
        XCTAssertEqual(old, EvictionLabSettings(kind: .tova, budget: 64, sink: 4, recent: 8))
        XCTAssertEqual(old.window, 1)   // fields stored without a value take the policy's reference
    }

    /// Through a model (the tiny test model: counts hold for any weights; one chunk, one fed-back token): every head drops one key
    /// per fed-back token, so it never holds more than when the question ended; TOVA's heads of a layer drop the same keys; scoring an answer
    /// token by token (H2O) leaves decoding as it was.
    func testBudgetHeldWhileDecoding() throws {
        let (model, tok) = try Fixtures.tinyModel()
        let text = try String(contentsOf: Fixtures.goldenDir.appendingPathComponent("passage.txt"), encoding: .utf8)
        let L = model.config.layerCount, H = model.config.headCount
        for kind in [EvictionLabSettings.Kind.tova, .h2o] {
            var config = ParallelCompConfig()
            config.chunkTokens = 128; config.keepChunks = 1; config.maxNewTokens = 2
            config.evictionLab = EvictionLabSettings(kind: kind, budget: 16, sink: 4, recent: 4, decodeEviction: true)
            let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: PromptFormat.forTokenizer(tok))
            let prep = try pc.prepare(context: String(text.prefix(300)), question: "What is the passage about?")
            let r = try pc.run(prep, scoreAnswer: tok.encode(" The passage", parseSpecial: false, addBOS: false))
            XCTAssertTrue(r.answerNLL?.isFinite == true)
            if kind == .h2o {
                let plain = try pc.run(prep)
                XCTAssertEqual(plain.answerIDs, r.answerIDs, "answer scoring must not change decoding")
                XCTAssertEqual(plain.evictedDecode, r.evictedDecode, "answer scoring must leave the cache as it found it")
            }
            let steps = r.answerIDs.count - 1
            XCTAssertGreaterThan(steps, 0)
            XCTAssertEqual(r.evictions.decode, Array(repeating: steps, count: L * H), "\(kind)")
            let evicted = try XCTUnwrap(r.evictedDecode)
            let S = r.combinedKeys, m = r.questionIDs.count
            for l in 0..<L {
                for h in 0..<H {
                    XCTAssertEqual(Set(evicted[l][h]).count, steps)
                    XCTAssertTrue(evicted[l][h].allSatisfy { $0 < S + m + steps })
                    if kind == .tova { XCTAssertEqual(evicted[l][h], evicted[l][0], "tova layer \(l) head \(h)") }
                }
            }
        }
    }
}
