import XCTest
import PCInference

/// The eviction lab through SmolLM2 (9 query heads over 3 KV heads): the kvpress setting, the
/// one-prefill path against running each point alone, stored KV under GQA, and the oracle chunk.
final class LabOnePrefillTests: XCTestCase {
    func setup(_ config: ParallelCompConfig, chars: Int) throws -> (ParallelCompPipeline, ParallelCompPipeline.Prepared) {
        let model = try Fixtures.expandedModel(), tok = try Tokenizer(gguf: GGUFFile(path: Fixtures.modelPath()))
        let text = try String(contentsOf: Fixtures.goldenDir.appendingPathComponent("passage.txt"), encoding: .utf8)
        let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: PromptFormat.forTokenizer(tok))
        pc.memo = nil
        return (pc, try pc.prepare(context: String(text.prefix(chars)), question: "What is the passage about?"))
    }

    var kvpressBase: ParallelCompConfig {
        var c = ParallelCompConfig()
        c.causal = true; c.maxNewTokens = 4
        return c
    }

    /// A point's outcome shared with the point run alone, bit for bit: answer, top-20 logits of
    /// the question's last row, answer NLL, kept keys, stored KV and eviction counts.
    func assertSameOutcome(_ t: ParallelCompPipeline.Result, _ a: ParallelCompPipeline.Result, _ what: String,
                           file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(t.answerIDs, a.answerIDs, what, file: file, line: line)
        XCTAssertEqual(t.top20IDs, a.top20IDs, what, file: file, line: line)
        XCTAssertEqual(t.top20Logits.map(\.bitPattern), a.top20Logits.map(\.bitPattern), what, file: file, line: line)
        XCTAssertEqual(t.answerNLL?.bitPattern, a.answerNLL?.bitPattern, what, file: file, line: line)
        XCTAssertEqual(t.policyKept, a.policyKept, what, file: file, line: line)
        XCTAssertEqual(t.storedKVPairs, a.storedKVPairs, what, file: file, line: line)
        XCTAssertEqual(t.evictions.compression, a.evictions.compression, what, file: file, line: line)
    }

    /// One prefill for every (policy, ratio) gives what each point gives alone, bit for bit: the
    /// answer, the last question row's top logits, the expected answer's NLL, the kept keys and
    /// the stored KV.
    func testOnePrefillEqualsPointByPoint() throws {
        let (pc, prep) = try setup(kvpressBase, chars: 400)
        let kinds: [EvictionLabSettings.Kind] = [.streaming, .h2o, .tova, .snapkv, .pyramidkv, .knorm, .random, .expectedAttention]
        let labs = kinds.enumerated().map { i, k in
            EvictionLabSettings(kind: k, ratio: [0.25, 0.5, 0.75, 0.875][i % 4], window: k == .snapkv || k == .pyramidkv ? 16 : nil,
                                setting: .kvpress)
        }
        let answer = pc.tokenizer.encode(" an essay", parseSpecial: false, addBOS: false)
        let together = try pc.runLabPoints(prep, labs: labs, scoreAnswer: answer)
        XCTAssertEqual(together.count, labs.count)
        var distinct = Set<[Int]>()
        for (lab, t) in zip(labs, together) {
            var c = kvpressBase; c.evictionLab = lab
            let (alone, p1) = try setup(c, chars: 400)
            let a = try alone.run(p1, scoreAnswer: answer)
            let what = "\(lab.kind.rawValue) ratio \(lab.ratio!)"
            assertSameOutcome(t, a, what)
            distinct.insert(t.top20Logits.prefix(3).map { Int($0.bitPattern) })
        }
        XCTAssertGreaterThan(distinct.count, 3)   // the points really differ
    }

    /// The ParallelComp setting: one pass per chunk serves every point, with and without the
    /// oracle chunk. Each point's answer, top logits, answer NLL, kept chunks, kept keys per
    /// chunk, stored KV, eviction counts and band log equal `run` with its lab alone, bit for bit.
    func testChunkPassesServeEveryPoint() throws {
        let kinds: [EvictionLabSettings.Kind] = [.snapkv, .h2o, .random, .expectedAttention]
        for oracle in [false, true] {
            var base = ParallelCompConfig()
            base.chunkTokens = 128; base.keepChunks = oracle ? 1 : 2; base.maxNewTokens = 4
            // One ratio per policy, alternating, so both budgets and every policy are covered at
            // half the runs (the suite's time is model passes).
            let labs = kinds.enumerated().map { i, k in EvictionLabSettings(kind: k, ratio: i % 2 == 0 ? 0.25 : 0.75, oracleChunk: oracle) }
            var (pc, prep) = try setup(base, chars: 2000)
            XCTAssertGreaterThanOrEqual(prep.chunks.count, 4)
            // The oracle forces a chunk the scores would not keep, so selection really is overridden.
            if oracle { prep.keepChunkIDs = [try pc.run(prep, generate: false).keptChunkIDs[0] == 1 ? 2 : 1] }
            let answer = pc.tokenizer.encode(" an essay", parseSpecial: false, addBOS: false)
            let together = try pc.runLabPoints(prep, labs: labs, scoreAnswer: answer)
            XCTAssertEqual(together.count, labs.count)
            var distinct = Set<[UInt32]>()
            for (lab, t) in zip(labs, together) {
                var c = base; c.evictionLab = lab
                let (alone, _) = try setup(c, chars: 2000)
                let a = try alone.run(prep, scoreAnswer: answer)
                let what = "\(lab.kind.rawValue) ratio \(lab.ratio!) oracle \(oracle)"
                assertSameOutcome(t, a, what)
                XCTAssertEqual(t.keptChunkIDs, a.keptChunkIDs, what)
                XCTAssertEqual(t.decodeTop20, a.decodeTop20, what)
                XCTAssertEqual(t.policyBands, a.policyBands, what)
                XCTAssertEqual(t.chunks.map { $0.nll?.bitPattern }, a.chunks.map { $0.nll?.bitPattern }, what)
                XCTAssertEqual(t.timings["chunks_unscored"], a.timings["chunks_unscored"], what)
                if oracle { XCTAssertEqual(t.keptChunkIDs, Array(prep.keepChunkIDs), what) }
                distinct.insert(t.top20Logits.prefix(3).map(\.bitPattern))
            }
            XCTAssertGreaterThan(distinct.count, 2, "oracle \(oracle)")   // the points really differ
        }
        // A setting that changes the chunk pass cannot share it: refused, not silently shared.
        var snap = ParallelCompConfig()
        snap.chunkTokens = 128; snap.compression = .init(capacity: 32, window: 8, kernel: 7)
        let (pc, prep) = try setup(snap, chars: 2000)
        XCTAssertThrowsError(try pc.runLabPoints(prep, labs: [EvictionLabSettings(kind: .knorm, ratio: 0.5)])) {
            XCTAssertEqual($0 as? SettingError, .sharedChunkPassesUnsupported)
        }
    }

    /// `LabRunner` in the ParallelComp setting: every point's row from the shared chunk passes
    /// equals the row the point gets run alone (answer, score, NLL, KV bytes, band and layer
    /// fractions, evidence held and its attention mass), with the oracle chunk as notebook 07 runs
    /// it (both modes are compared at the library level above).
    func testLabRunnerRowsEqualPointAlone() throws {
        let model = try Fixtures.expandedModel(), tok = try Tokenizer(gguf: GGUFFile(path: Fixtures.modelPath()))
        let ex = RetrievalTaskBuilder(tokenizer: tok).ruler(.niahSingle2, essays: try String(contentsOf: Fixtures.goldenDir.appendingPathComponent("passage.txt"), encoding: .utf8),
                                                          tokens: 600, depth: 0.5, seed: 1)
        let format = PromptFormat.forExample(tok, layout: .official, template: ex.template, instruction: ex.instruction, answerPrefix: ex.answerPrefix)
        var config = ParallelCompConfig()
        config.chunkTokens = 192; config.keepChunks = 1; config.maxNewTokens = 4
        let oracle = true
        let points = [LabRunner.Point.off(.parallelComp, oracleChunk: oracle)] + [(EvictionLabSettings.Kind.snapkv, 0.5), (.random, 0.25), (.expectedAttention, 0.5)].map {
            LabRunner.Point(name: "\($0.0.rawValue)@\($0.1)", lab: EvictionLabSettings(kind: $0.0, ratio: $0.1, oracleChunk: oracle))
        }
        let together = try LabRunner.parallelComp(ex, model: model, tokenizer: tok, config: config, format: format, points: points, memo: nil)
        for (p, t) in zip(points, together) {
            let a = try XCTUnwrap(LabRunner.parallelComp(ex, model: model, tokenizer: tok, config: config, format: format, points: [p], memo: nil).first)
            let what = p.name
            XCTAssertEqual(t.answer, a.answer, what)
            XCTAssertEqual(t.score, a.score, what)
            XCTAssertEqual(t.answerNLL?.bitPattern, a.answerNLL?.bitPattern, what)
            XCTAssertEqual(t.kvBytes, a.kvBytes, what)
            XCTAssertEqual(t.keptBand, a.keptBand, what)
            XCTAssertEqual(t.keptLayer?.map(\.bitPattern), a.keptLayer?.map(\.bitPattern), what)
            XCTAssertEqual(t.evidenceHeldAll, a.evidenceHeldAll, what)
            XCTAssertEqual(t.evidenceHeldAny, a.evidenceHeldAny, what)
            XCTAssertEqual(t.evidenceMass?.bitPattern, a.evidenceMass?.bitPattern, what)
            XCTAssertNotNil(t.evidenceMass, what)
        }
        XCTAssertGreaterThan(Set(together.map { $0.answerNLL?.bitPattern }).count, 2)
    }

    /// The kvpress setting compresses before the question: each KV head keeps floor(n r) context
    /// keys, the stored KV is that times layers x KV heads, and the per-query-head variant stores
    /// more for the same budget.
    func testKVPressSettingStoresTheBudgetPerKVHead() throws {
        let model = try Fixtures.expandedModel(), L = model.config.layerCount, Hkv = model.config.kvHeadCount
        for (kind, perQuery) in [(EvictionLabSettings.Kind.snapkv, false), (.snapkv, true), (.knorm, false), (.random, true), (.expectedAttention, false)] {
            var c = kvpressBase
            c.evictionLab = EvictionLabSettings(kind: kind, ratio: 0.25, window: 8, perQueryHead: perQuery, setting: .kvpress)
            let (pc, prep) = try setup(c, chars: 400)
            let r = try pc.run(prep, generate: false)
            let n = prep.chunks[0].contextLength, keep = n / 4
            let kept = try XCTUnwrap(r.policyKept["0"])
            XCTAssertTrue(kept.allSatisfy { $0.allSatisfy { $0.count == keep } }, "\(kind)")
            if kind == .expectedAttention {
                // Its 4 sinks stay, and the rest is ranked by a signal, not by position (all-equal
                // scores, as without the query moments, would keep the earliest keys).
                XCTAssertTrue(kept.allSatisfy { $0.allSatisfy { Array($0.prefix(4)) == [0, 1, 2, 3] } })
                XCTAssertTrue(kept.contains { $0.contains { $0 != Array(0..<keep) } })
                XCTAssertTrue((0..<L).contains { l in kept[l][0] != kept[l][3] })   // KV heads differ
            }
            if perQuery {
                XCTAssertGreaterThan(r.storedKVPairs, keep * L * Hkv, "\(kind) per query head")
            } else {
                XCTAssertEqual(r.storedKVPairs, keep * L * Hkv, "\(kind)")
            }
            XCTAssertEqual(r.combinedKeys, n)
        }
        // No question in the eviction pass: TOVA's last row is the context's, not the question's,
        // so the kept set differs from the query-aware causal variant.
        var kv = kvpressBase, qa = kvpressBase
        kv.evictionLab = EvictionLabSettings(kind: .tova, ratio: 0.25, setting: .kvpress)
        qa.evictionLab = EvictionLabSettings(kind: .tova, ratio: 0.25)
        let (p1, prep1) = try setup(kv, chars: 400), (p2, prep2) = try setup(qa, chars: 400)
        XCTAssertNotEqual(try p1.run(prep1, generate: false).policyKept, try p2.run(prep2, generate: false).policyKept)
    }

    /// The oracle chunk is kept whatever its score.
    func testOracleChunkIsAlwaysKept() throws {
        var c = ParallelCompConfig()
        c.chunkTokens = 64; c.keepChunks = 1; c.maxNewTokens = 1
        c.evictionLab = EvictionLabSettings(kind: .knorm, ratio: 0.5, oracleChunk: true)
        var (pc, prep) = try setup(c, chars: 900)
        XCTAssertGreaterThanOrEqual(prep.chunks.count, 3)
        let chosen = try pc.run(prep, generate: false).keptChunkIDs
        let other = (0..<prep.chunks.count).first { !chosen.contains($0) }!
        prep.keepChunkIDs = [other]
        XCTAssertEqual(try pc.run(prep, generate: false).keptChunkIDs, [other])
    }
}
