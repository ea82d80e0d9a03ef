import PCInference
import TestSupport
import XCTest

/// The eviction lab's shared paths against each point run alone, bit for bit, through the
/// library: one prefill for every (policy, ratio) in the kvpress setting, one pass per chunk in
/// the ParallelComp setting. Equality of two paths holds for any weights, so these run on the tiny
/// test model (4 query heads over 2 KV heads: GQA as SmolLM2's 9 over 3); every point is checked
/// to store less KV than no eviction, so the policies really evict.
final class LabSharedPassTests: XCTestCase {
    func setup(_ config: ParallelCompConfig, chars: Int) throws -> (ParallelCompPipeline, ParallelCompPipeline.Prepared) {
        try Fixtures.labPipeline(config, chars: chars)
    }

    var kvpressBase: ParallelCompConfig { LabPipeline.kvpressBase }

    /// A point's outcome shared with the point run alone, bit for bit: answer, top-20 logits of
    /// the question's last row, answer NLL, kept keys, stored KV and eviction counts.
    func assertSameOutcome(_ t: ParallelCompPipeline.Result, _ a: ParallelCompPipeline.Result, _ what: String,
                           file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(t.answerIDs, a.answerIDs, what, file: file, line: line)
        XCTAssertEqual(t.decodeTop20, a.decodeTop20, what, file: file, line: line)   // the side-by-side decode's every step
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
        let stored = try pc.run(prep, generate: false).storedKVPairs   // no eviction
        var distinct = Set<[Int]>()
        for (lab, t) in zip(labs, together) {
            var c = kvpressBase; c.evictionLab = lab
            let (alone, p1) = try setup(c, chars: 400)
            let a = try alone.run(p1, scoreAnswer: answer)
            let what = "\(lab.kind.rawValue) ratio \(lab.ratio!)"
            assertSameOutcome(t, a, what)
            XCTAssertLessThan(t.storedKVPairs, stored, "\(what) evicted nothing")
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
            let stored = try pc.run(prep, generate: false).storedKVPairs   // no eviction
            var distinct = Set<[UInt32]>()
            for (lab, t) in zip(labs, together) {
                var c = base; c.evictionLab = lab
                let (alone, _) = try setup(c, chars: 2000)
                let a = try alone.run(prep, scoreAnswer: answer)
                let what = "\(lab.kind.rawValue) ratio \(lab.ratio!) oracle \(oracle)"
                assertSameOutcome(t, a, what)
                XCTAssertLessThan(t.storedKVPairs, stored, "\(what) evicted nothing")
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
}
