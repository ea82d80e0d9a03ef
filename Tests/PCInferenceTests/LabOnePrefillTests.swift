import XCTest
import PCInference
import TestSupport

/// The eviction lab through a model: the kvpress setting's budgets and stored KV under GQA, the
/// LabRunner rows against running each point alone, and the oracle chunk. These are counts and
/// equalities that hold for any weights, so they run on the tiny test model (4 query heads over
/// 2 KV heads, GQA as SmolLM2's 9 over 3); ExpectedAttention's ranking by a signal is checked on
/// SmolLM2. The "shared passes equal each point alone" tests are LabSharedPassTests, beside this
/// file.
final class LabOnePrefillTests: XCTestCase {
    func setup(_ config: ParallelCompConfig, chars: Int, smolLM2: Bool = false) throws -> (ParallelCompPipeline, ParallelCompPipeline.Prepared) {
        try Fixtures.labPipeline(config, chars: chars, smolLM2: smolLM2)
    }

    var kvpressBase: ParallelCompConfig { LabPipeline.kvpressBase }

    /// `LabRunner` in the ParallelComp setting: every point's row from the shared chunk passes
    /// equals the row the point gets run alone (answer, score, NLL, KV bytes, band and layer
    /// fractions, evidence held and its attention mass), with the oracle chunk as notebook 07 runs
    /// it (both modes are compared at the library level above).
    func testLabRunnerRowsEqualPointAlone() throws {
        let (model, tok) = try Fixtures.tinyModel()
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
            if p.name != "off" { XCTAssertLessThan(try XCTUnwrap(t.kvBytes), try XCTUnwrap(together[0].kvBytes), "\(what) evicted nothing") }
        }
        XCTAssertGreaterThan(Set(together.map { $0.answerNLL?.bitPattern }).count, 2)
    }

    /// The kvpress setting compresses before the question: each KV head keeps floor(n r) context
    /// keys, the stored KV is that times layers x KV heads, and the per-query-head variant stores
    /// more for the same budget.
    func testKVPressSettingStoresTheBudgetPerKVHead() throws {
        let L = TinyModel.layers, Hkv = TinyModel.kvHeads
        for (kind, perQuery) in [(EvictionLabSettings.Kind.snapkv, false), (.snapkv, true), (.knorm, false), (.random, true), (.expectedAttention, false)] {
            var c = kvpressBase
            c.evictionLab = EvictionLabSettings(kind: kind, ratio: 0.25, window: 8, perQueryHead: perQuery, setting: .kvpress)
            let (pc, prep) = try setup(c, chars: 400)
            let r = try pc.run(prep, generate: false)
            let n = prep.chunks[0].contextLength, keep = n / 4
            let kept = try XCTUnwrap(r.policyKept["0"])
            XCTAssertEqual(kept.count, L)
            XCTAssertTrue(kept.allSatisfy { $0.allSatisfy { $0.count == keep } }, "\(kind)")
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

    /// ExpectedAttention in the kvpress setting through SmolLM2 (query moments of a trained model):
    /// its 4 sinks stay, and the rest is ranked by a signal, not by position (all-equal scores, as
    /// without the query moments, would keep the earliest keys), differently per KV head.
    func testKVPressExpectedAttentionRanksBySignal() throws {
        var c = kvpressBase
        c.evictionLab = EvictionLabSettings(kind: .expectedAttention, ratio: 0.25, window: 8, setting: .kvpress)
        let (pc, prep) = try setup(c, chars: 400, smolLM2: true)
        let r = try pc.run(prep, generate: false)
        let keep = prep.chunks[0].contextLength / 4, L = pc.model.config.layerCount
        let kept = try XCTUnwrap(r.policyKept["0"])
        XCTAssertTrue(kept.allSatisfy { $0.allSatisfy { $0.count == keep } })
        XCTAssertTrue(kept.allSatisfy { $0.allSatisfy { Array($0.prefix(4)) == [0, 1, 2, 3] } })
        XCTAssertTrue(kept.contains { $0.contains { $0 != Array(0..<keep) } })
        XCTAssertTrue((0..<L).contains { l in kept[l][0] != kept[l][3] })   // KV heads differ
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
