import ProbeAnalysis
import Foundation
import PCInference
import XCTest

/// Design-artefact tests (docs/claims-protocol.md, section 5): for every claim, per-example
/// inputs drawn with no effect give "holds" at most at the nominal 2.5 % (plus Monte-Carlo
/// slack) over 400 synthetic runs, and a planted effect beyond the minimum is detected in most.
/// Where the claim's statistic is computed from attention (T2, T3, T7, T8, T9) the draws are
/// synthetic attention tables or entropies fed through the claim's own `measure`; elsewhere
/// they are the per-example numbers the runs produce. The v1 rule (percentile bootstrap,
/// threshold only, examples as units, v1 statistic) runs on the same draws for the record.
final class ClaimNullSimulationTests: XCTestCase {
    static let draws = 400, n = 40
    /// Synthetic attention costs more per example: 200 runs of 12 examples.
    static let attentionDraws = 200, attentionN = 12
    /// 2.5 % nominal plus 3 binomial sd of slack (0.8 % at 400 draws, 1.1 % at 200).
    static func maxNullRate(draws: Int) -> Double { 0.025 + 3 * (0.025 * 0.975 / Double(draws)).squareRoot() }

    struct Rng {
        var s: SplitMix64
        mutating func uniform() -> Double { (Double(s.next() >> 11) + 0.5) / 9_007_199_254_740_992 }
        mutating func normal() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()) }
    }

    /// One synthetic run: `n` rows from `gen(rng, index)`, aggregated; returns the v2 verdict and
    /// the v1 rule's verdict on `v1Value` of the same rows.
    func runOnce(_ claim: any Claim, seed: UInt64, n: Int = n, haystacks: Bool = true, configurations: Int? = nil,
                 gen: (inout Rng, Int) -> [String: Double]?, v1Value: (([String: Double]) -> Double?)? = nil, v1Threshold: Threshold? = nil) -> (Verdict, Verdict?) {
        var rng = Rng(s: SplitMix64(seed: seed))
        var rows: [ExampleRow] = []
        for i in 0..<n {
            guard let m = gen(&rng, i) else { continue }
            // A repeated configuration (v1's pass keys) shares a depth and has no haystack.
            let depth = configurations.map { Double(i % $0) } ?? 0
            rows.append(ExampleRow(example: ClaimExample(index: i, offset: 0, chunks: 2, question: "", passkeyDepth: depth, passkeySeed: 0,
                                                         passkeyHaystack: haystacks ? i : nil),
                                   claims: [claim.id: m], arrays: [:], seconds: 0))
        }
        let v2 = ClaimAggregate.outcomes([claim], rows: rows, seed: seed, resamples: 0).first!.verdict
        guard let v1Value, let v1Threshold else { return (v2, nil) }
        // 500 resamples: enough for the record of the v1 rule's rate, a quarter of the time.
        let b = Bootstrap.meanInterval(rows.compactMap { $0.claims[claim.id].flatMap(v1Value) }, seed: seed, resamples: 500)
        return (v2, v1Threshold.verdict(low: b.low, high: b.high))
    }

    /// Share of draws that hold under v2 (and v1 when given).
    func holdRate(_ claim: any Claim, n: Int = n, draws: Int = draws, haystacks: Bool = true, configurations: Int? = nil,
                  gen: (inout Rng, Int) -> [String: Double]?, v1Value: (([String: Double]) -> Double?)? = nil, v1Threshold: Threshold? = nil) -> (v2: Double, v1: Double?, draws: Int) {
        var h2 = 0, h1 = 0
        for d in 0..<draws {
            let (a, b) = runOnce(claim, seed: 0xA11CE &+ UInt64(d) &* 7919, n: n, haystacks: haystacks, configurations: configurations,
                                 gen: gen, v1Value: v1Value, v1Threshold: v1Threshold)
            if a == .holds { h2 += 1 }
            if b == .holds { h1 += 1 }
        }
        return (Double(h2) / Double(draws), v1Value == nil ? nil : Double(h1) / Double(draws), draws)
    }

    func assertNull(_ claim: any Claim, _ r: (v2: Double, v1: Double?, draws: Int), _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        print(String(format: "null %@ %@: v2 holds %.3f%@", claim.id, what, r.v2, r.v1.map { String(format: ", v1 rule holds %.3f", $0) } ?? ""))
        XCTAssertLessThanOrEqual(r.v2, Self.maxNullRate(draws: r.draws), "\(claim.id) \(what)", file: file, line: line)
    }
    func assertDetected(_ claim: any Claim, _ r: (v2: Double, v1: Double?, draws: Int), _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        print(String(format: "planted %@ %@: v2 holds %.3f", claim.id, what, r.v2))
        XCTAssertGreaterThanOrEqual(r.v2, 0.8, "\(claim.id) \(what)", file: file, line: line)
    }

    // MARK: per-example numbers, every claim's own test

    /// Each claim's first part at its null boundary (the threshold; the margin for two-sided
    /// forms) with normal noise, and at 1.5x its minimum effect beyond it (0.05 beyond the bar
    /// where the bar is the relevance). Noise sd = the minimum effect (0.05 where it is 0).
    func testEveryClaimNullAndPlanted() {
        // Sensitivity rows share their claim's test (T13L is T13's): tested once.
        for claim in ClaimCatalog.all where claim.kind.inFamily {
            let parts = claim.parts
            // (null boundary, planted value) of a part's test.
            func centres(_ test: ClaimTest) -> (Double, Double) {
                switch test {
                case let .beyond(t, d):
                    let sign = t.direction == .above ? 1.0 : -1.0
                    return (t.value, t.value + sign * (d > 0 ? 1.5 * d : 0.05))
                case let .equivalent(m): return (m, 0)
                case let .different(m): return (m, 2.5 * m)
                }
            }
            // Other parts (T13's late half, T16's uncontrolled gain) sit where they hold, so the
            // first part decides.
            func others(_ rng: inout Rng, sd: Double) -> [String: Double] {
                var m: [String: Double] = [:]
                for p in parts.dropFirst() { m[p.key] = centres(p.test).1 + sd * 0.2 * rng.normal() }
                return m
            }
            let sd = claim.minimumEffect > 0 ? claim.minimumEffect : 0.05
            let (nullCentre, planted) = centres(parts[0].test)
            let nullRate = holdRate(claim, gen: { rng, _ in
                var m = others(&rng, sd: sd); m[parts[0].key] = nullCentre + sd * rng.normal(); return m
            })
            assertNull(claim, nullRate, "at its null boundary")
            let plantedRate = holdRate(claim, gen: { rng, _ in
                var m = others(&rng, sd: sd); m[parts[0].key] = planted + sd * rng.normal(); return m
            })
            assertDetected(claim, plantedRate, "planted at \(planted)")
        }
    }

    /// v1 failures on the same kind of draws, kept as the record of what v2 fixed:
    /// - T20 tested |change| > 0.1: no effect at all (sd 0.2) "holds" nearly always;
    /// - T13/T15 examples repeat five configurations: treating 40 of them as independent
    ///   over-rejects when configurations differ;
    /// - T7 "held" on effects far below any minimum.
    func testV1FailuresAreFixed() {
        let t20 = holdRate(QuestionBOSClaim(), gen: { rng, _ in ["value": 0.2 * rng.normal()] },
                           v1Value: { $0["value"].map(abs) }, v1Threshold: Threshold(value: 0.1, direction: .above))
        assertNull(QuestionBOSClaim(), t20, "no effect")
        XCTAssertGreaterThan(t20.v1!, 0.5, "the v1 rule should have failed this null")

        // Five configurations, each with its own offset (sd 0.3), eight repeats with small noise.
        var offsets: [Double] = []
        let t15 = holdRate(AllEvictionClaim(), haystacks: false, configurations: 5, gen: { rng, i in
            if i == 0 { offsets = (0..<5).map { _ in 0.3 * rng.normal() } }
            return ["value": 0.5 + offsets[i % 5] + 0.02 * rng.normal()]
        }, v1Value: { $0["value"] }, v1Threshold: Threshold(value: 0.5, direction: .above))
        assertNull(AllEvictionClaim(), t15, "pseudo-replicated configurations")
        XCTAssertGreaterThan(t15.v1!, Self.maxNullRate(draws: Self.draws), "the v1 rule should have over-rejected")

        let t7 = holdRate(SinkEvictionDepthClaim(), gen: { rng, _ in ["value": 0.003 + 0.003 * rng.normal()] },
                          v1Value: { $0["value"] }, v1Threshold: Threshold(value: 0, direction: .above))
        assertNull(SinkEvictionDepthClaim(), t7, "an effect of 0.003 nats")
        XCTAssertGreaterThan(t7.v1!, 0.9)
    }

    // MARK: synthetic attention through the claims' own statistics

    /// Attention drawn i.i.d. per key (log-normal), so no band is special: T2 and T3 must not
    /// hold; planted sinks (T2) and heavy tails (T3) in most heads must.
    func testBandClaimsOnSyntheticAttention() {
        func tables(_ rng: inout Rng, _ s: SyntheticRuns, boost: (ChunkBands) -> [Range<Int>], factor: Double, share: Double) -> KeyTable {
            let keys = s.globalKeys
            return s.table(keys: keys) { _ in
                var p = (0..<keys).map { _ in exp(0.8 * rng.normal()) }
                if rng.uniform() < share { for b in s.runs.bands { for r in boost(b) { for k in r { p[k] *= factor } } } }
                return p
            }
        }
        for prefix in [0, SyntheticRuns.prefix] {
            let base = SyntheticRuns(prefix: prefix)
            let cases: [(any Claim, (ChunkBands) -> [Range<Int>])] = [(SinkRepeatsClaim(), { [$0.cachedHead] }), (RecencyOverSinkClaim(), { [$0.tail] })]
            for (claim, boost) in cases {
                func gen(_ factor: Double, _ share: Double) -> (inout Rng, Int) -> [String: Double]? {
                    { rng, _ in var s = base; s.runs.global = tables(&rng, s, boost: boost, factor: factor, share: share); s.runs.kept = s.runs.global; return claim.measure(s.wrap()) }
                }
                assertNull(claim, holdRate(claim, n: Self.attentionN, draws: Self.attentionDraws, gen: gen(1, 0)), "i.i.d. attention, template \(prefix)")
                assertDetected(claim, holdRate(claim, n: Self.attentionN, draws: Self.attentionDraws, gen: gen(30, 0.8)), "band x30 in 80 % of heads, template \(prefix)")
            }
        }
    }

    /// T8 under pure renormalisation (what eviction does inside the evicted layer) plus per-key
    /// noise, in the rule's run (the tail evicted) and in its matched random control (as many
    /// keys per head evicted at random): the middle gains its pro-rata share in both, so T8
    /// must not hold; extra mass to the middle in the rule's run only must.
    func testRecencyToMiddleOnSyntheticAttention() {
        let base = SyntheticRuns(layers: 4, heads: 3)
        func gen(_ middleBoost: Double) -> (inout Rng, Int) -> [String: Double]? {
            { rng, _ in
                var s = base
                let keys = s.globalKeys, L = s.runs.layers, H = s.runs.heads
                var before: [[Double]] = []
                s.runs.global = s.table(keys: keys) { _ in let p = (0..<keys).map { _ in exp(0.8 * rng.normal()) }; before.append(p); return p }
                let tail = s.runs.bands.flatMap { Array($0.tail) }
                var ruleKeys = Array(repeating: Array(repeating: [Int](), count: H), count: L), ctlKeys = ruleKeys
                var h = 0
                s.runs.globalRecentDeep = s.table(keys: keys) { lh in
                    var p = before[h]; h += 1
                    for k in tail { p[k] = 0 }
                    ruleKeys[lh / H][lh % H] = tail
                    for b in s.runs.bands { for k in b.cachedMiddle { p[k] *= middleBoost } }
                    return p.map { $0 * exp(0.05 * rng.normal()) }
                }
                h = 0
                s.runs.control.globalRecentDeep = s.table(keys: keys) { lh in
                    var p = before[h]; h += 1
                    var pool = Array(0..<keys)
                    for i in 0..<tail.count { pool.swapAt(i, i + Int(rng.s.next() % UInt64(keys - i))) }
                    for k in pool.prefix(tail.count) { p[k] = 0 }
                    ctlKeys[lh / H][lh % H] = Array(pool.prefix(tail.count))
                    return p.map { $0 * exp(0.05 * rng.normal()) }
                }
                s.runs.evictedKeysRecentDeep = ruleKeys; s.runs.control.evictedKeysRecentDeep = ctlKeys
                return RecencyToMiddleClaim().measure(s.wrap())
            }
        }
        assertNull(RecencyToMiddleClaim(), holdRate(RecencyToMiddleClaim(), n: Self.attentionN, draws: Self.attentionDraws, gen: gen(1)), "pro-rata renormalisation")
        assertDetected(RecencyToMiddleClaim(), holdRate(RecencyToMiddleClaim(), n: Self.attentionN, draws: Self.attentionDraws, gen: gen(1.5)), "middle x1.5")
    }

    /// T7 and T9 read entropy after eviction in the layers downstream of it, net of the matched
    /// control: entropies that only move by noise must not hold; planted shifts of 2x the
    /// minimum in the rule's runs must. `anyEviction` shifts rule and control alike (evicting
    /// any keys changes the entropy): the controlled statistic must not hold, while the
    /// uncontrolled one (v2's headline, read through the v1 rule) does.
    func testEntropyClaimsOnSyntheticEntropies() {
        // 8 layers of 6 heads: a quarter holds 12 heads, so per-head noise averages down as in a
        // real model (SmolLM2: 63 heads a quarter); the difference with the control doubles it.
        let base = SyntheticRuns(layers: 8, heads: 6)
        func gen(_ claim: any Claim, early: Double, deep: Double, mid: Double, anyEviction: Double = 0) -> (inout Rng, Int) -> [String: Double]? {
            { rng, _ in
                var s = base
                let lh = s.runs.lhCount
                s.runs.midLayer = 4
                s.runs.globalEntropy = (0..<lh).map { _ in 3 + 0.5 * rng.normal() }
                s.runs.globalMax = (0..<lh).map { _ in 0.3 }
                s.runs.maxBothMid = s.runs.globalMax
                // shift(layer): planted per layer; quarters of 2 layers, mid layer 4.
                func after(_ shift: (Int) -> Double) -> [Double] { (0..<lh).map { s.runs.globalEntropy[$0] + shift($0 / s.runs.heads) + 0.1 * rng.normal() } }
                let a = anyEviction, q = { (l: Int) in s.runs.quarter(l) }
                s.runs.entropySinkEarly = after { q($0) == 1 ? early - a : 0 }
                s.runs.entropySinkDeep = after { q($0) == 3 ? deep + a : 0 }
                s.runs.entropyBothMid = after { $0 > 4 ? mid + a : 0 }
                s.runs.control.entropySinkEarly = after { q($0) == 1 ? -a : 0 }
                s.runs.control.entropySinkDeep = after { q($0) == 3 ? a : 0 }
                s.runs.control.entropyBothMid = after { $0 > 4 ? a : 0 }
                return claim.measure(s.wrap())
            }
        }
        let t7 = SinkEvictionDepthClaim(), t9 = MidDepthEvictionClaim()
        assertNull(t7, holdRate(t7, gen: gen(t7, early: 0, deep: 0, mid: 0)), "no shift")
        assertDetected(t7, holdRate(t7, gen: gen(t7, early: -0.1, deep: 0.1, mid: 0)), "shifts of 0.1 nats")
        assertNull(t9, holdRate(t9, gen: gen(t9, early: 0, deep: 0, mid: 0)), "no shift")
        assertDetected(t9, holdRate(t9, gen: gen(t9, early: 0, deep: 0, mid: 0.1)), "a shift of 0.1 nats")
        for claim in [t7, t9] as [any Claim] {
            let r = holdRate(claim, draws: 100, gen: gen(claim, early: 0, deep: 0, mid: 0, anyEviction: 0.2),
                             v1Value: { $0["value_uncontrolled"] }, v1Threshold: Threshold(value: 0, direction: .above))
            assertNull(claim, (r.v2, r.v1, r.draws), "any eviction shifts entropy by 0.2 (rule and control alike)")
            XCTAssertGreaterThan(r.v1!, 0.9, "\(claim.id): the uncontrolled statistic should have 'held' here")
        }
    }

    /// The NLL claims with a control: when losing any keys raises the NLL by the same amount
    /// (rule and control alike), the controlled headline must not hold; the uncontrolled one did.
    func testNLLClaimsNeedMoreThanAnyEviction() {
        let t13 = ShallowSinksClaim()
        let r = holdRate(t13, draws: 200, gen: { rng, _ in
            let any = 0.3 + 0.05 * rng.normal(), noise = 0.05 * rng.normal()
            return ["value_uncontrolled": any + noise, "value": noise, "nll_change_late_net": 0.01 * rng.normal()]
        }, v1Value: { $0["value_uncontrolled"] }, v1Threshold: Threshold(value: 0, direction: .above))
        assertNull(t13, r, "any eviction costs 0.3 nats")
        XCTAssertGreaterThan(r.v1!, 0.9)
    }
}
