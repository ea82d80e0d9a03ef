import XCTest
import PCInference

/// The eviction lab's policies on planted scores where the kept set is known by construction.
final class EvictionLabTests: XCTestCase {
    /// What the lab keeps of `n` candidates (keys first ..< first + n) in one layer: the
    /// protected sink and recent keys plus the policy's pick, as the pipeline selects them.
    func kept(_ lab: EvictionLabSettings, n: Int, first: Int = 0, layer: Int = 0, layers: Int = 1, heads: Int = 2,
              scores: [[Float]] = [], salt: UInt64 = 0) -> [[Int]] {
        let ranked = lab.ranked(candidates: n)
        let keep = lab.kept(layer: layer, layers: layers, candidates: n) - (n - ranked.count)
        let s = scores.isEmpty ? Array(repeating: [Float](), count: heads) : scores
        let sel = lab.policy(keep: keep, salt: salt).select(ranked: ranked, first: first, scores: s)
        return sel.evicted.map { gone in (first..<(first + n)).filter { !gone.contains($0) } }
    }

    func testStreamingKeepsExactlyTheSinksAndTheLastWindow() {
        let lab = EvictionLabSettings(kind: .streaming, budget: 10, sink: 4)
        // Keys 1...20 (a later chunk: key 0 is its BOS); scores must not matter.
        let k = kept(lab, n: 20, first: 1, scores: [(0..<21).map { Float($0 % 3) }, (0..<21).map { Float(20 - $0) }])
        let want = Array(1...4) + Array(15...20)
        XCTAssertEqual(k, [want, want])
    }

    func testH2OKeepsThePlantedHeavyHittersAndTheRecentKeys() {
        var s = [Float](repeating: 0.01, count: 40)
        for hitter in [3, 11, 27] { s[hitter] = 5 }
        s[38] = 9   // protected anyway
        // Budget 12: 2 sinks + 4 protected recent, 6 ranked: the last 3 of them (the recent half)
        // and the 3 heavy hitters.
        let lab = EvictionLabSettings(kind: .h2o, budget: 12, sink: 2, recent: 4)
        XCTAssertEqual(kept(lab, n: 40, heads: 1, scores: [s]), [[0, 1, 3, 11, 27, 33, 34, 35, 36, 37, 38, 39]])
        XCTAssertEqual(H2OPolicy(keep: 1, recent: 0).signal, .attention(lastRows: nil))   // accumulated over every row
    }

    func testKNormKeepsThePlantedLowNormKeys() {
        var norms = [Float](repeating: 10, count: 30)
        for low in [5, 6, 17, 22] { norms[low] = 1 + Float(low) / 100 }
        norms[20] = 0.5   // the lowest, but the budget leaves room for only four
        let lab = EvictionLabSettings(kind: .knorm, budget: 4, sink: 0)
        XCTAssertEqual(kept(lab, n: 30, heads: 1, scores: [norms]), [[5, 6, 17, 20]])
    }

    func testTOVAKeepsOneSetPerLayerFromTheHeadMean() {
        // Head 0 prefers key 2, head 1 key 5; by the mean over heads key 5 wins (0.9 + 0.3 vs 0.5 + 0.4).
        let h0: [Float] = [0, 0, 0.5, 0, 0, 0.3, 0], h1: [Float] = [0, 0, 0.4, 0, 0, 0.9, 0.1]
        let lab = EvictionLabSettings(kind: .tova, budget: 1, sink: 0)
        XCTAssertEqual(kept(lab, n: 7, scores: [h0, h1]), [[5], [5]])
    }

    func testSnapKVPoolsNeighbours() {
        // Kernel 3: key 4's neighbour 5 has the peak, so 4, 5 and 6 tie at 1 and the earlier keys win.
        var s = [Float](repeating: 0, count: 12); s[5] = 1; s[10] = 0.5
        let lab = EvictionLabSettings(kind: .snapkv, budget: 2, sink: 0, kernel: 3, pool: .max)
        XCTAssertEqual(kept(lab, n: 12, heads: 1, scores: [s]), [[4, 5]])
    }

    func testPyramidBudgetsShrinkWithDepth() {
        // Through the lab: layer 0 keeps more than the last layer, from the same scores (window 8
        // so that the top layer's budget, mean / beta, clears it).
        let lab = EvictionLabSettings(kind: .pyramidkv, budget: 180, sink: 0, window: 8)
        let s = [(0..<200).map { Float(($0 * 37) % 101) }]
        XCTAssertGreaterThan(kept(lab, n: 200, layer: 0, layers: 10, heads: 1, scores: s)[0].count,
                             kept(lab, n: 200, layer: 9, layers: 10, heads: 1, scores: s)[0].count)
    }

    func testRandomIsSeededAndReproducible() {
        let a = EvictionLabSettings(kind: .random, budget: 16, sink: 0, seed: 7)
        let k1 = kept(a, n: 100, salt: 3), k2 = kept(a, n: 100, salt: 3)
        XCTAssertEqual(k1, k2)
        XCTAssertEqual(k1.map(\.count), [16, 16])
        XCTAssertNotEqual(k1[0], k1[1])                       // heads draw apart
        XCTAssertNotEqual(kept(a, n: 100, salt: 4), k1)        // another layer or chunk
        var b = a; b.seed = 8
        XCTAssertNotEqual(kept(b, n: 100, salt: 3), k1)
    }

    func testBudgetAndRatioConversion() throws {
        let tokens = EvictionLabSettings(kind: .h2o, budget: 512)
        XCTAssertEqual(tokens.tokens(candidates: 4000), 512)
        XCTAssertEqual(tokens.kept(layer: 0, layers: 1, candidates: 300), 300)   // never more than there are
        let ratio = EvictionLabSettings(kind: .h2o, ratio: 0.25)
        XCTAssertEqual(ratio.tokens(candidates: 400), 100)
        XCTAssertEqual(ratio.tokens(candidates: 10), 2)      // kvpress: int(2.5)
        XCTAssertEqual(ratio.tokens(candidates: 1), 1)
        // Protected keys stay even beyond a ratio's budget.
        XCTAssertEqual(EvictionLabSettings(kind: .h2o, ratio: 0.01, sink: 4, recent: 4).kept(layer: 0, layers: 1, candidates: 100), 8)
        XCTAssertThrowsError(try EvictionLabSettings(kind: .h2o).check())
        XCTAssertThrowsError(try EvictionLabSettings(kind: .h2o, budget: 8, ratio: 0.5).check())
        XCTAssertThrowsError(try EvictionLabSettings(kind: .h2o, ratio: 1.5).check())
        XCTAssertThrowsError(try EvictionLabSettings(kind: .h2o, budget: 6, sink: 4, recent: 4).check())
        XCTAssertNoThrow(try tokens.check())
    }

    /// `check` says which setting is wrong as a typed case, in the library's names for settings,
    /// never a command line's flags (the command line words each case with its flags).
    func testCheckNamesTheSettingNotAFlag() {
        func problem(_ s: EvictionLabSettings) -> SettingError? {
            do { try s.check(); return nil } catch { return error }
        }
        XCTAssertEqual(problem(EvictionLabSettings(kind: .h2o)), .budgetAndRatio)
        XCTAssertEqual(problem(EvictionLabSettings(kind: .h2o, budget: 8, ratio: 0.5)), .budgetAndRatio)
        XCTAssertEqual(problem(EvictionLabSettings(kind: .h2o, budget: 0)), .budgetBelowOne)
        XCTAssertEqual(problem(EvictionLabSettings(kind: .h2o, ratio: 1.5)), .ratioOutOfRange)
        XCTAssertEqual(problem(EvictionLabSettings(kind: .h2o, budget: 6, sink: 4, recent: 4)), .protectedOverBudget(sink: 4, recent: 4, budget: 6))
        XCTAssertEqual(problem(EvictionLabSettings(kind: .snapkv, budget: 64, decodeEviction: true)), .decodeEvictionUnsupported(policy: "snapkv"))
        XCTAssertNil(problem(EvictionLabSettings(kind: .h2o, budget: 8)))
        XCTAssertEqual(SettingError.budgetAndRatio.fields, ["evictionLab.budget", "evictionLab.ratio"])
        let all: [SettingError] = [.budgetAndRatio, .budgetBelowOne, .ratioOutOfRange, .negativeSinkOrRecent,
                                   .protectedOverBudget(sink: 1, recent: 2, budget: 2), .windowOrKernel, .betaBelowOne,
                                   .decodeEvictionUnsupported(policy: "knorm"), .oracleChunkInKVPress, .kvpressNeedsPolicyAndCausal,
                                   .kvpressNeedsOneChunk(chunks: 3), .sharedPrefillNeedsCausalKVPress, .keepChunksBelowOne,
                                   .labWithBatchedChunks, .batchedChunksNeedOnePass, .chunkNotBelowLengthBudget(chunkTokens: 9000, budget: 8000)]
        for e in all {
            XCTAssertFalse(e.description.contains("--"), e.description)
            XCTAssertFalse(e.fields.isEmpty, e.description)
        }
    }

    func testBandLogCountsKeptKeysAndMassByBand() {
        var log = PolicyBandLog(chunks: 1, layers: 1, heads: 1, width: 2)
        // Candidates 1...6 (n = 6), question keys 7, 8 (m = 2); summed attention of the 2 rows.
        let s: [Float] = [0.4, 0.2, 0.2, 0.1, 0.1, 0.3, 0.3, 0.2, 0.2]
        log.record(chunk: 0, layer: 0, first: 1, n: 6, m: 2, scores: [s], evicted: [[0, 3, 4]])
        XCTAssertEqual(log.keys, [2, 2, 2, 2])
        func at(_ b: PolicyBandLog.Band) -> (Int, Float) { let i = log.index(chunk: 0, band: b, layer: 0, head: 0); return (log.kept[i], log.mass[i]) }
        XCTAssertEqual(at(.sink).0, 2); XCTAssertEqual(at(.sink).1, 0.2, accuracy: 1e-6)
        XCTAssertEqual(at(.middle).0, 0); XCTAssertEqual(at(.middle).1, 0, accuracy: 1e-6)   // evicted: its mass is not kept
        XCTAssertEqual(log.bandMass[log.index(chunk: 0, band: .middle, layer: 0, head: 0)], 0.1, accuracy: 1e-6)
        XCTAssertEqual(at(.recent).0, 2); XCTAssertEqual(at(.recent).1, 0.3, accuracy: 1e-6)
        XCTAssertEqual(at(.question).0, 2); XCTAssertEqual(at(.question).1, 0.2, accuracy: 1e-6)
    }

    /// kvpress-style invariants through a model (the tiny test model: they hold for any weights,
    /// and every layer is checked to evict): every policy, at budgets of 6, 10 and 16
    /// keys or a ratio of 0.5 in turn (PyramidKV: a different budget per layer), on plain causal
    /// attention (one chunk, a run kept to two passes), and H2O over two chunks (a later chunk's BOS is no candidate):
    /// each head keeps exactly the budget (per layer for PyramidKV), the band log's
    /// kept counts add up to it and agree with the kept keys reported for the kept chunks, masses
    /// are finite, kept mass is at most the band's, and the bands' mass sums to at most 1.
    func testEveryPolicyThroughTheModelKeepsItsBudget() throws {
        let (model, tok) = try Fixtures.tinyModel()
        let text = try String(contentsOf: Fixtures.goldenDir.appendingPathComponent("passage.txt"), encoding: .utf8)
        let L = model.config.layerCount, H = model.config.headCount
        var base = ParallelCompConfig()
        base.chunkTokens = 64; base.keepChunks = 2; base.maxNewTokens = 1; base.bandWidth = 8
        base.splitBy = .tokens   // chunks of exactly the size asked for, however short the text
        let budgets: [(Int?, Double?)] = [(10, nil), (nil, 0.5), (6, nil), (16, nil)]
        for (i, kind) in EvictionLabSettings.Kind.allCases.enumerated() {
            do {
                let (b, r) = budgets[i % budgets.count]
                var config = base
                config.evictionLab = EvictionLabSettings(kind: kind, budget: b, ratio: r, sink: 4, recent: 2)
                config.causal = kind != .h2o
                let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: PromptFormat.forTokenizer(tok))
                pc.memo = nil
                let prep = try pc.prepare(context: String(text.prefix(config.causal ? 160 : 260)), question: "What is the passage about?")
                let what = "\(kind) budget \(b.map(String.init) ?? "ratio \(r!)")"
                XCTAssertTrue(config.causal ? prep.chunks.count == 1 : prep.chunks.count >= 2, what)
                let res = try pc.run(prep, generate: false)
                let log = try XCTUnwrap(res.policyBands)
                XCTAssertEqual(log.chunks, prep.chunks.count, what)
                for c in 0..<log.chunks {
                    let keys = (0..<4).map { log.keys[c * 4 + $0] }
                    let n = keys[0] + keys[1] + keys[2], m = keys[3]
                    XCTAssertEqual(n, prep.chunks[c].contextLength - (c == 0 ? 0 : 1), what)
                    XCTAssertEqual(m, res.questionIDs.count, what)
                    for l in 0..<L {
                        let want = config.evictionLab!.kept(layer: l, layers: L, candidates: n)
                        XCTAssertLessThan(want, n, "\(what) layer \(l) evicts")
                        if kind != .pyramidkv { XCTAssertEqual(want, min(n, max(config.evictionLab!.tokens(candidates: n), 6)), what) }
                        for h in 0..<H {
                            let x = PolicyBandLog.Band.allCases.map { log.index(chunk: c, band: $0, layer: l, head: h) }
                            XCTAssertEqual(x.prefix(3).map { log.kept[$0] }.reduce(0, +), want, "\(what) chunk \(c) layer \(l) head \(h)")
                            XCTAssertGreaterThanOrEqual(log.kept[x[0]], min(4, want), what)   // the sinks are protected
                            let mass = x.map { log.mass[$0] }, band = x.map { log.bandMass[$0] }
                            XCTAssertTrue((mass + band).allSatisfy { $0.isFinite && $0 >= 0 }, what)
                            XCTAssertLessThanOrEqual(band.reduce(0, +), 1 + 1e-4, what)
                            for b in 0..<4 { XCTAssertLessThanOrEqual(mass[b], band[b] + 1e-6, what) }
                            if let kk = res.policyKept[String(c)] { XCTAssertEqual(kk[l][h].count, want, what) }
                        }
                    }
                }
                XCTAssertEqual(res.policyKept.count, min(2, prep.chunks.count), what)
            }
        }
    }
}
