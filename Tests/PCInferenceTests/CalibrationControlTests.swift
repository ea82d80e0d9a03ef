import XCTest
import PCInference

/// The claims' matched controls (protocol v3): the control keeps the rule's count per head and
/// changes only which keys go.
final class CalibrationControlTests: XCTestCase {
    private func input(heads: Int, keys: Int) -> EvictionInput {
        var rng = SplitMix64(seed: 7)
        let scores = (0..<heads).map { _ in (0..<keys).map { _ in Float(rng.next() % 1000) / 1000 } }
        let cand = (0..<heads).map { _ in (2..<keys).map { EvictionCandidate(key: $0, position: $0 - 2) } }
        return EvictionInput(scores: scores, candidates: cand)
    }

    func testDrawsKeepTheCountPerHead() {
        let inp = input(heads: 4, keys: 40)
        let rule = EvictionSelection(evicted: [[2, 3], [], [5, 6, 7, 8, 9], [39]], outliers: [2, 0, 5, 1])
        for control in [ParallelCompConfig.CalibrationControl.random, .lowest] {
            let d = CalibrationControlDraw(control: control, seed: 11, layer: 3, passEndKey: 40).replacing(rule, input: inp)
            XCTAssertEqual(d.evicted.map(\.count), [2, 0, 5, 1], "\(control)")
            XCTAssertEqual(d.outliers, rule.outliers)
            for h in 0..<4 {
                XCTAssertEqual(Set(d.evicted[h]).count, d.evicted[h].count, "no key drawn twice")
                XCTAssertTrue(d.evicted[h].allSatisfy { $0 >= 2 && $0 < 40 }, "only candidates")
                XCTAssertEqual(d.evicted[h], d.evicted[h].sorted())
            }
        }
        // lowest: exactly the head's lowest-scoring candidates
        let low = CalibrationControlDraw(control: .lowest, seed: 0, layer: 0, passEndKey: 40).replacing(rule, input: inp)
        let order = (2..<40).sorted { inp.scores[2][$0] != inp.scores[2][$1] ? inp.scores[2][$0] < inp.scores[2][$1] : $0 < $1 }
        XCTAssertEqual(low.evicted[2], Array(order.prefix(5)).sorted())
    }

    /// Same seed, layer, pass and head: the same keys; another seed: other keys; and the draw
    /// is uniform over the candidates (each of 38 keys drawn at its share over many seeds).
    func testRandomDrawIsSeededAndUniform() {
        let inp = input(heads: 1, keys: 40)
        let rule = EvictionSelection(evicted: [[2, 3, 4]], outliers: [3])
        let a = CalibrationControlDraw(control: .random, seed: 5, layer: 1, passEndKey: 40).replacing(rule, input: inp)
        let b = CalibrationControlDraw(control: .random, seed: 5, layer: 1, passEndKey: 40).replacing(rule, input: inp)
        XCTAssertEqual(a, b)
        var counts = [Int](repeating: 0, count: 40), differ = 0
        let draws = 4000
        for s in 0..<draws {
            let d = CalibrationControlDraw(control: .random, seed: UInt64(s), layer: 1, passEndKey: 40).replacing(rule, input: inp)
            for k in d.evicted[0] { counts[k] += 1 }
            if d != a { differ += 1 }
        }
        XCTAssertGreaterThan(differ, draws * 9 / 10)
        // expected 4000 x 3 / 38 = 315.8 per key, sd about 17; 6 sd either side
        for k in 2..<40 { XCTAssertEqual(Double(counts[k]), 315.8, accuracy: 110, "key \(k)") }
        XCTAssertEqual(counts[0] + counts[1], 0)
    }

    /// On the model: a chunk-stage sink rule and its random control evict the same number of
    /// keys in every (chunk, layer, head), and the control's keys are not the rule's.
    /// Stays on SmolLM2: keys go during the pass, so a layer's count in the control run is the
    /// rule's count on hidden states the control's earlier evictions changed; the two runs agree
    /// because SmolLM2's sink outliers are stable, not for any weights (on the tiny random test
    /// model layers 2 and 3 differ by one key).
    func testPipelineControlMatchesCounts() throws {
        let model = try Fixtures.model()
        let tok = try Tokenizer(gguf: GGUFFile(path: Fixtures.modelPath()))
        let text = try String(contentsOf: Fixtures.goldenDir.appendingPathComponent("passage.txt"), encoding: .utf8)
        let ids = tok.encode(text, parseSpecial: false, addBOS: false)
        let chunks = [Array(ids[0..<96]), Array(ids[96..<192])]
        let q = PromptFormat.forTokenizer(tok).questionIDs(tok, question: "Who designed the new lighthouse lens?")
        func run(_ control: ParallelCompConfig.CalibrationControl) throws -> ParallelCompPipeline.Result {
            var c = ParallelCompConfig()
            c.keepChunks = 2; c.maxNewTokens = 1; c.bandWidth = 8; c.lambda = 0.05
            c.calibration = [CalibrationRule(band: .sink, layers: 0...7, stage: .chunk)]
            c.calibrationControl = control; c.calibrationControlSeed = 3
            let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: c, format: PromptFormat.forTokenizer(tok))
            return try pc.run(try .init(chunkTokenIDs: chunks, questionIDs: q))
        }
        let rule = try run(.none), ctl = try run(.random)
        XCTAssertFalse(rule.evictedChunk.isEmpty)
        var total = 0, same = 0
        for (id, keys) in rule.evictedChunk {
            let other = try XCTUnwrap(ctl.evictedChunk[id])
            XCTAssertEqual(keys.map { $0.map(\.count) }, other.map { $0.map(\.count) }, "chunk \(id)")
            for (l, layer) in keys.enumerated() { for (h, k) in layer.enumerated() { total += k.count; same += Set(k).intersection(other[l][h]).count } }
        }
        XCTAssertGreaterThan(total, 0, "the rule evicted something, so the control is a manipulation too")
        XCTAssertLessThan(Double(same), 0.5 * Double(total), "the control's keys are mostly not the rule's")
    }
}


/// Protocol v5's control replays the rule run's counts: on the tiny random model, whose later
/// layers choose a different number of keys once earlier layers lost other keys, the replayed
/// control matches the rule in every (pass, layer, head) at both stages, while the v3 control
/// (the rule choosing inside the control's own pass) does not at the chunk stage.
final class CalibrationReplayTests: XCTestCase {
    func testReplayedControlMatchesTheRuleRunExactly() throws {
        let (model, tok) = try Fixtures.tinyModel()
        let text = try String(contentsOf: Fixtures.goldenDir.appendingPathComponent("passage.txt"), encoding: .utf8)
        let ids = tok.encode(text, parseSpecial: false, addBOS: false)
        let chunks = [Array(ids[0..<96]), Array(ids[96..<192])]
        let format = PromptFormat.forTokenizer(tok)
        let q = format.questionIDs(tok, question: "Who designed the new lighthouse lens?")
        let L = model.config.layerCount
        for stage in [CalibrationRule.Stage.chunk, .query] {
            var c = ParallelCompConfig()
            c.keepChunks = 2; c.maxNewTokens = 1; c.bandWidth = 8; c.lambda = 0.05
            c.calibration = [CalibrationRule(band: .sink, layers: 0...(L - 1), stage: stage), CalibrationRule(band: .recent, layers: 1...(L - 1), stage: stage)]
            func run(_ c: ParallelCompConfig) throws -> ParallelCompPipeline.Result {
                try ParallelCompPipeline(model: model, tokenizer: tok, config: c, format: format).run(try .init(chunkTokenIDs: chunks, questionIDs: q))
            }
            let rule = try run(c)
            var v3 = c; v3.calibrationControl = .random; v3.calibrationControlSeed = 3
            var v5 = v3; v5.calibrationControlCounts = rule.calibrationCounts
            let old = try run(v3), replayed = try run(v5)
            let counts = rule.calibrationCounts
            XCTAssertEqual(Set(counts.keys), stage == .chunk ? [CalibrationPass.chunk(0), CalibrationPass.chunk(1)] : [CalibrationPass.question])
            XCTAssertGreaterThan(counts.values.joined().reduce(0, +), 0, "\(stage): the rule evicted keys")
            XCTAssertEqual(replayed.calibrationCounts, counts, "\(stage): the replayed control loses exactly the rule run's keys per pass, layer and head")
            // The v3 control's own counts drift at the chunk stage on this model (why v5 replays;
            // at the question stage here they happen to agree).
            if stage == .chunk { XCTAssertNotEqual(old.calibrationCounts, counts, "the v3 control drifts") }
            var same = 0
            let keysOf: (ParallelCompPipeline.Result) -> [[[Int]]] = { stage == .chunk ? $0.evictedChunk["0"]! : $0.evictedQuery! }
            for (a, b) in zip(keysOf(rule).joined(), keysOf(replayed).joined()) { same += Set(a).intersection(b).count }
            XCTAssertLessThan(same, keysOf(rule).joined().joined().count / 2, "\(stage): the control's keys are mostly not the rule's")
        }
    }
}

/// When forced chunks fill the keep budget the other chunks are not prefilled; the kept
/// chunk's cache, its evictions and the answer are the same as when every chunk runs (on the
/// tiny test model: an equality of two paths).
final class ForcedChunkSkipTests: XCTestCase {
    func testSkippedChunksChangeNothing() throws {
        let (model, tok) = try Fixtures.tinyModel()
        let text = try String(contentsOf: Fixtures.goldenDir.appendingPathComponent("passage.txt"), encoding: .utf8)
        let ids = tok.encode(text, parseSpecial: false, addBOS: false)
        let chunks = [Array(ids[0..<80]), Array(ids[80..<160]), Array(ids[160..<240])]
        let q = PromptFormat.forTokenizer(tok).questionIDs(tok, question: "Who designed the new lighthouse lens?")
        var c = ParallelCompConfig()
        c.keepChunks = 1; c.maxNewTokens = 1; c.bandWidth = 8; c.lambda = 0.05
        c.calibration = [CalibrationRule(band: .sink, layers: 0...(model.config.layerCount - 1), stage: .chunk)]
        let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: c, format: PromptFormat.forTokenizer(tok))
        var prep = try ParallelCompPipeline.Prepared(chunkTokenIDs: chunks, questionIDs: q)
        prep.keepChunkIDs = [1]
        let answer = tok.encode(" Fresnel", parseSpecial: false, addBOS: false)
        let skipped = try pc.run(prep, scoreAnswer: answer)
        // An observer of chunk passes makes every chunk run.
        let watcher = KeyScoreObserver(stage: .local, lastRows: 1, layers: model.config.layerCount, heads: model.config.headCount)
        let full = try pc.run(prep, observers: [watcher], scoreAnswer: answer)
        XCTAssertEqual(skipped.timings["chunks_unscored"], 2)
        XCTAssertEqual(full.timings["chunks_unscored"], 0)
        XCTAssertEqual(skipped.keptChunkIDs, [1]); XCTAssertEqual(full.keptChunkIDs, [1])
        XCTAssertEqual(skipped.answerNLL, full.answerNLL)
        XCTAssertEqual(skipped.top20Logits, full.top20Logits)
        XCTAssertEqual(skipped.evictedChunk["1"], full.evictedChunk["1"])
        XCTAssertGreaterThan(try XCTUnwrap(skipped.evictedChunk["1"]).joined().joined().count, 0, "the kept chunk's rule evicted keys")
        XCTAssertNil(skipped.evictedChunk["0"]); XCTAssertNotNil(full.evictedChunk["0"])
        XCTAssertNil(skipped.chunks[0].nll); XCTAssertNotNil(full.chunks[0].nll)
    }
}
