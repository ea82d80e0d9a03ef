import ProbeAnalysis
import Foundation
import XCTest

/// The v2 statistics against independent values (R / scipy quantiles to 6 digits), the verdict
/// rules, Holm, the empty-band bug and the pinned protocol hash.
final class ProtocolStatisticsTests: XCTestCase {
    func testQuantilesAgainstTables() {
        // qt(0.975, df) and qnorm(0.975) from R.
        XCTAssertEqual(Stats.tQuantile(0.975, df: 4), 2.776445, accuracy: 1e-6)
        XCTAssertEqual(Stats.tQuantile(0.975, df: 19), 2.093024, accuracy: 1e-6)
        XCTAssertEqual(Stats.tQuantile(0.975, df: 39), 2.022691, accuracy: 1e-6)
        XCTAssertEqual(Stats.tQuantile(0.025, df: 9), -2.262157, accuracy: 1e-6)
        XCTAssertEqual(Stats.normalQuantile(0.975), 1.959964, accuracy: 1e-6)
        // scipy.stats.t.cdf(1.5, 7)
        XCTAssertEqual(Stats.tCDF(1.5, df: 7), 0.911350756505015, accuracy: 1e-10)
    }

    func testHolm() {
        // p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") = 0.03 0.06 0.06 0.02
        let a = Stats.holm([0.01, 0.04, 0.03, 0.005])
        for (x, y) in zip(a, [0.03, 0.06, 0.06, 0.02]) { XCTAssertEqual(x, y, accuracy: 1e-12) }
        XCTAssertTrue(Stats.holm([.nan, 0.01])[0].isNaN)
        XCTAssertEqual(Stats.holm([.nan, 0.01])[1], 0.01, accuracy: 1e-12)
    }

    /// The t interval of a known sample, and BCa close to it on symmetric data.
    func testMeanInterval() {
        let v = [1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        let i = MeanInterval.of(v, seed: 7)
        // mean 5.5, sd 3.02765, se 0.957427, qt(.975, 9) = 2.262157
        XCTAssertEqual(i.low, 5.5 - 2.262157 * 0.957427, accuracy: 1e-5)
        XCTAssertEqual(i.high, 5.5 + 2.262157 * 0.957427, accuracy: 1e-5)
        XCTAssertEqual(i.bcaLow, i.low, accuracy: 0.5)
        XCTAssertEqual(i.bcaHigh, i.high, accuracy: 0.5)
        XCTAssertEqual(MeanInterval.of([3, 3, 3, 3, 3], seed: 1).bcaLow, 3)
        XCTAssertEqual(MeanInterval.of([1, 2, 3], seed: 1).low, -.infinity)   // below 5 units: no interval
    }

    /// The three test forms and the minimum effect.
    func testVerdictForms() {
        func i(_ mean: Double, _ se: Double, n: Int = 20) -> MeanInterval {
            let t = Stats.tQuantile(0.975, df: Double(n - 1))
            return MeanInterval(mean: mean, se: se, n: n, low: mean - t * se, high: mean + t * se, bcaLow: .nan, bcaHigh: .nan)
        }
        let beyond = ClaimTest.beyond(Threshold(value: 0, direction: .above), minimumEffect: 0.05)
        XCTAssertEqual(beyond.verdict(i(0.2, 0.01)), .holds)
        XCTAssertEqual(beyond.verdict(i(0.003, 0.001)), .fails)        // T7's v1 case: significant, far too small
        XCTAssertEqual(beyond.verdict(i(0.04, 0.015)), .inconclusive)  // significant, below the minimum, interval reaches it
        XCTAssertEqual(beyond.verdict(i(-0.2, 0.01)), .fails)
        let below = ClaimTest.beyond(Threshold(value: 0, direction: .below), minimumEffect: 0.01)
        XCTAssertEqual(below.verdict(i(-0.1, 0.01)), .holds)
        XCTAssertEqual(below.verdict(i(0.0, 0.001)), .fails)
        let eq = ClaimTest.equivalent(margin: 0.1)
        XCTAssertEqual(eq.verdict(i(0.01, 0.02)), .holds)
        XCTAssertEqual(eq.verdict(i(-0.3, 0.05)), .fails)               // v1's T18 "holds" on Gemma was this
        XCTAssertEqual(eq.verdict(i(0.08, 0.05)), .inconclusive)
        let diff = ClaimTest.different(margin: 0.1)
        XCTAssertEqual(diff.verdict(i(-0.3, 0.05)), .holds)
        XCTAssertEqual(diff.verdict(i(0.01, 0.02)), .fails)
        XCTAssertEqual(beyond.verdict(MeanInterval.of([], seed: 1)), .notMeasured)
    }

    /// Bug X9: an empty band was a tie (0.5); it is "not measured" now, in the share and in the report.
    func testEmptyBandIsNotMeasured() {
        XCTAssertTrue(SinkRepeatsClaim.elevatedShare([(mass: 0, share: 0), (mass: 0, share: 0)]).isNaN)
        XCTAssertEqual(SinkRepeatsClaim.elevatedShare([(mass: 0, share: 0), (mass: 0.9, share: 0.1)]), 1)
        // A template-free cache (official layout): the template band is empty in every chunk.
        var s = SyntheticRuns(prefix: 0)
        let keys = s.globalKeys
        s.runs.global = s.table(keys: keys) { _ in (0..<keys).map { 1 + Double($0 % 5) } }
        s.runs.kept = s.runs.global
        let m = SinkRepeatsClaim().measure(s.wrap())!
        XCTAssertTrue(m["template_share_elevated"]!.isNaN)
        XCTAssertTrue(RecencyOverSinkClaim().measure(s.wrap())!["share_recent_gt_template"]!.isNaN)
        let rows = (0..<6).map { ExampleRow(example: ClaimExample(index: $0, offset: 0, chunks: 2, question: "", passkeyDepth: 0, passkeySeed: 0),
                                            claims: ["T2": m], arrays: [:], seconds: 0) }
        let o = ClaimAggregate.outcomes([SinkRepeatsClaim()], rows: rows, seed: 1)[0]
        XCTAssertTrue(o.numbers["template_share_elevated"]!.isNaN)
        // Every example without a statistic: not measured, not a verdict.
        let none = rows.map { r -> ExampleRow in var r = r; r.claims["T2"]!["value"] = .nan; return r }
        XCTAssertEqual(ClaimAggregate.outcomes([SinkRepeatsClaim()], rows: none, seed: 1)[0].verdict, .notMeasured)
    }

    /// Appendix C's band is the chunk's first keys as cached: template copies under the chat
    /// layout. Mass on the template alone makes the sink win T3's headline but not its
    /// content-only form.
    func testAppendixCBandIncludesTheTemplate() {
        var s = SyntheticRuns()
        let keys = s.globalKeys
        s.runs.global = s.table(keys: keys) { _ in
            var p = [Double](repeating: 1, count: keys)
            for b in s.runs.bands { for k in b.template { p[k] = 20 }; for k in b.tail { p[k] = 5 } }
            return p
        }
        s.runs.kept = s.runs.global
        let m = RecencyOverSinkClaim().measure(s.wrap())!
        XCTAssertEqual(m["value"]!, 0)               // the template (cached head) beats the tail
        XCTAssertEqual(m["share_content_only"]!, 1)  // the tail beats the content sink
    }

    /// A claim whose examples repeat a configuration is tested over configurations: 20 rows
    /// from 5 configurations are 5 units, not 20.
    func testClusteredUnits() {
        let rows: [ExampleRow] = (0..<20).map { (i: Int) -> ExampleRow in
            let depth: Double = Double(i % 5) / 4
            let value: Double = Double(i % 5) * 0.2 + Double(i) * 1e-3
            let e = ClaimExample(index: i, offset: 0, chunks: 2, question: "", passkeyDepth: depth, passkeySeed: UInt64(i))
            return ExampleRow(example: e, claims: ["T20": ["value": value]], arrays: [:], seconds: 0)
        }
        let o = ClaimAggregate.outcomes([QuestionBOSClaim()], rows: rows, seed: 1)[0]
        XCTAssertEqual(o.units, 5); XCTAssertEqual(o.examples, 20)
        // With its own haystack every example is its own unit.
        let own = rows.map { r -> ExampleRow in var r = r; r.example.passkeyHaystack = r.example.index * 100; return r }
        XCTAssertEqual(ClaimAggregate.outcomes([QuestionBOSClaim()], rows: own, seed: 1)[0].units, 20)
    }

    /// Fewer keys evicted than the minimum: "no manipulation", in both columns.
    func testNoManipulation() {
        let rows = (0..<8).map { i in
            ExampleRow(example: ClaimExample(index: i, offset: 0, chunks: 2, question: "", passkeyDepth: 0, passkeySeed: 0),
                       claims: ["T9": ["value": 0.5 + Double(i) * 0.01, "evicted_per_head": 0.2]], arrays: [:], seconds: 0)
        }
        let o = ClaimAggregate.outcomes([MidDepthEvictionClaim()], rows: rows, seed: 1)[0]
        XCTAssertEqual(o.verdict, .noManipulation); XCTAssertEqual(o.adjustedVerdict, .noManipulation)
        XCTAssertEqual(o.evictedPerHead!, 0.2, accuracy: 1e-12)
        let enough = rows.map { r -> ExampleRow in var r = r; r.claims["T9"]!["evicted_per_head"] = 3; return r }
        XCTAssertEqual(ClaimAggregate.outcomes([MidDepthEvictionClaim()], rows: enough, seed: 1)[0].verdict, .holds)
    }

    /// T13 needs both halves: early eviction hurts and late eviction changes nothing. v1's
    /// case (early +0.0025, late -0.32) fails now.
    func testTwoPartPattern() {
        func rows(early: Double, late: Double) -> [ExampleRow] {
            (0..<10).map { i in
                let j = Double(i % 5 - 2) * 0.005
                return ExampleRow(example: ClaimExample(index: i, offset: 0, chunks: 2, question: "", passkeyDepth: 0, passkeySeed: 0, passkeyHaystack: i),
                                  claims: ["T13": ["value": early + j, "nll_change_late_net": late - j]], arrays: [:], seconds: 0)
            }
        }
        XCTAssertEqual(ClaimAggregate.outcomes([ShallowSinksClaim()], rows: rows(early: 0.5, late: 0), seed: 1)[0].verdict, .holds)
        XCTAssertEqual(ClaimAggregate.outcomes([ShallowSinksClaim()], rows: rows(early: 0.0025, late: -0.32), seed: 1)[0].verdict, .fails)
        XCTAssertEqual(ClaimAggregate.outcomes([ShallowSinksClaim()], rows: rows(early: 0.5, late: 0.4), seed: 1)[0].verdict, .fails)
    }

    /// T20 is the signed NLL change without the question's BOS: changes of both signs and no
    /// effect average to about 0 and fail the "a change beyond +/- 0.1" test (v1 averaged |change|,
    /// which noise alone pushed past 0.1).
    func testQuestionBOSIsSigned() {
        func x(_ d: Double) -> ExampleRuns {
            var p = PasskeyRuns(); p.base = .init(nll: 2, needleMass: 0); p.noQuestionBOS = .init(nll: 2 + d, needleMass: 0)
            return ExampleRuns(essay: EssayRuns(), passkey: p, continuation: ContinuationRuns())
        }
        XCTAssertEqual(QuestionBOSClaim().measure(x(-0.3))!["value"]!, -0.3, accuracy: 1e-12)
        let rows = (0..<20).map { i in
            ExampleRow(example: ClaimExample(index: i, offset: 0, chunks: 2, question: "", passkeyDepth: 0, passkeySeed: 0, passkeyHaystack: i),
                       claims: ["T20": QuestionBOSClaim().measure(x(i % 2 == 0 ? 0.3 : -0.3 + Double(i) * 1e-3))!], arrays: [:], seconds: 0)
        }
        XCTAssertNotEqual(ClaimAggregate.outcomes([QuestionBOSClaim()], rows: rows, seed: 1)[0].verdict, .holds)
    }

    /// Holm turns a marginal raw verdict into an inconclusive one when many claims are tested.
    func testHolmColumn() {
        let claims: [any Claim] = [SinkEvictionDepthClaim(), MidDepthEvictionClaim(), RecencyInContextClaim()]
        // Values with t about 2.3 at n = 20: p about 0.016 one-sided, raw holds; Holm x3 > 0.025.
        var rows: [ExampleRow] = []
        for i in 0..<20 {
            let sign: Double = i % 2 == 0 ? -1 : 1
            let v: Double = 0.3 + sign * 0.55 + Double(i) * 1e-4
            let e = ClaimExample(index: i, offset: 0, chunks: 2, question: "", passkeyDepth: 0, passkeySeed: 0)
            rows.append(ExampleRow(example: e, claims: ["T7": ["value": v], "T9": ["value": v], "T14": ["value": v]], arrays: [:], seconds: 0))
        }
        let o = ClaimAggregate.outcomes(claims, rows: rows, seed: 1)
        for x in o {
            XCTAssertLessThan(x.pHold, 0.025, x.id); XCTAssertEqual(x.verdict, Verdict.holds, x.id)
            XCTAssertGreaterThan(x.pHoldAdjusted, 0.025, x.id); XCTAssertEqual(x.adjustedVerdict, Verdict.inconclusive, x.id)
        }
    }

    /// docs/claims-protocol.md is the protocol the code pins: editing it without a new version fails here.
    func testProtocolHashPinned() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/claims-protocol.md"), encoding: .utf8)
        XCTAssertEqual(SHA256Hasher.hex(text), ClaimProtocol.sha256, "docs/claims-protocol.md changed: make it a new protocol version (ClaimProtocol)")
        XCTAssertTrue(text.hasPrefix("# Claims protocol, version \(ClaimProtocol.version) (\(ClaimProtocol.date))"))
    }
}
