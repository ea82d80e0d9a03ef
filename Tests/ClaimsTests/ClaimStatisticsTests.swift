import ProbeAnalysis
import XCTest

/// Each claim statistic on synthetic attention whose answer is planted: a statistic that stops
/// measuring what it says makes one of these fail.
final class ClaimStatisticsTests: XCTestCase {
    // MARK: T1

    /// A U head (first keys of every chunk and its tail), a mountain head (a middle bump) and a
    /// flat head get those labels; a mix of the three holds, all-U fails.
    func testThreeShapes() {
        var s = SyntheticRuns()
        let keys = s.globalKeys
        func profile(_ shape: ThreeShapesClaim.Shape) -> [Double] {
            var p = [Double](repeating: 1, count: keys)
            for b in s.runs.bands {
                switch shape {
                case .u: for k in b.span.lowerBound..<(b.span.lowerBound + 2) { p[k] = 40 }; for k in b.tail { p[k] = 40 }
                case .mountain: for k in (b.content.lowerBound + 30)..<(b.content.lowerBound + 34) { p[k] = 30 }
                default: break
                }
            }
            return p
        }
        let mix: [ThreeShapesClaim.Shape] = [.u, .mountain, .uniform]
        s.runs.global = s.table(keys: keys) { profile(mix[$0 % 3]) }
        let m = ThreeShapesClaim().measure(s.wrap())!
        XCTAssertEqual(m["share_u"]!, 1.0 / 3, accuracy: 1e-9)
        XCTAssertEqual(m["share_mountain"]!, 1.0 / 3, accuracy: 1e-9)
        XCTAssertEqual(m["share_uniform"]!, 1.0 / 3, accuracy: 1e-9)
        XCTAssertEqual(verdict(ThreeShapesClaim(), s.wrap()).0, .holds)

        s.runs.global = s.table(keys: keys) { _ in profile(.u) }
        let (v, est) = verdict(ThreeShapesClaim(), s.wrap())
        XCTAssertEqual(est, 0, accuracy: 1e-12)
        XCTAssertEqual(v, .fails)
    }

    // MARK: T2, T3

    /// T2's headline is appendix C's band, the chunk's first S keys as cached: with a template
    /// (chat layout) those are template copies, so mass on them holds T2 and a planted content
    /// sink shows only in the content-only number; without a template the band is content.
    func testSinkBandIsTheCachedHead() {
        var s = SyntheticRuns()
        let keys = s.globalKeys, b2 = s.runs.bands[1]
        s.runs.kept = s.table(keys: keys) { _ in [Double](repeating: 1, count: keys) }
        s.runs.global = s.table(keys: keys) { _ in
            var p = [Double](repeating: 1, count: keys); for k in b2.contentSink { p[k] = 50 }; return p
        }
        var m = SinkRepeatsClaim().measure(s.wrap())!
        XCTAssertEqual(m["value"]!, 0); XCTAssertEqual(m["content_sink_share_elevated"]!, 1)
        XCTAssertEqual(verdict(SinkRepeatsClaim(), s.wrap()).0, .fails)
        s.runs.global = s.table(keys: keys) { _ in
            var p = [Double](repeating: 1, count: keys); for k in b2.template { p[k] = 50 }; return p
        }
        m = SinkRepeatsClaim().measure(s.wrap())!
        XCTAssertEqual(m["value"]!, 1); XCTAssertEqual(m["content_sink_share_elevated"]!, 0)
        XCTAssertEqual(m["template_share_elevated"]!, 1)
        XCTAssertEqual(verdict(SinkRepeatsClaim(), s.wrap()).0, .holds)
        // No template: the cached head is the content sink.
        var o = SyntheticRuns(prefix: 0)
        let ok = o.globalKeys, c2 = o.runs.bands[1]
        XCTAssertEqual(c2.cachedHead, c2.contentSink)
        o.runs.kept = o.table(keys: ok) { _ in [Double](repeating: 1, count: ok) }
        o.runs.global = o.table(keys: ok) { _ in var p = [Double](repeating: 1, count: ok); for k in c2.contentSink { p[k] = 50 }; return p }
        XCTAssertEqual(verdict(SinkRepeatsClaim(), o.wrap()).0, .holds)
    }

    /// Heads with heavier tails than heads hold T3; the reverse fails; equal bands are ties.
    func testRecencyOverSink() {
        var s = SyntheticRuns()
        let keys = s.globalKeys
        func plant(tail: Double, sink: Double) {
            s.runs.global = s.table(keys: keys) { _ in
                var p = [Double](repeating: 1, count: keys)
                for b in s.runs.bands { for k in b.tail { p[k] = tail }; for k in b.cachedHead { p[k] = sink } }
                return p
            }
            s.runs.kept = s.runs.global
        }
        plant(tail: 9, sink: 3); XCTAssertEqual(verdict(RecencyOverSinkClaim(), s.wrap()).0, .holds)
        plant(tail: 3, sink: 9); XCTAssertEqual(verdict(RecencyOverSinkClaim(), s.wrap()).0, .fails)
        plant(tail: 5, sink: 5); XCTAssertEqual(RecencyOverSinkClaim().measure(s.wrap())!["value"]!, 0.5, accuracy: 1e-12)
    }

    // MARK: T4

    /// The local pass of every chunk has a BOS sink (0.38 of the mass); the global cache keeps
    /// chunk 1's BOS only, and the content is attended the same way. Matched denominators give
    /// exactly 0.5 (every pair a tie, inconclusive); the old whole-chunk denominators do not.
    /// Halving the global tail makes T4 hold.
    func testMatchedDenominators() {
        var s = SyntheticRuns()
        let lk = s.localKeys, gk = s.globalKeys
        let content = (0..<SyntheticRuns.width).map { 1 + Double($0 % 7) }
        let local = s.table(keys: lk) { _ in
            var p = [Double](repeating: 0, count: lk)
            p[0] = 0.38 / 0.62 * content.reduce(0, +)
            for (i, v) in content.enumerated() { p[SyntheticRuns.prefix + i] = v }
            return p
        }
        s.runs.local = [local, local]
        func global(tailScale: Double) -> KeyTable {
            s.table(keys: gk) { _ in
                var p = [Double](repeating: 0, count: gk)
                p[0] = 0.38 / 0.62 * content.reduce(0, +)
                for b in s.runs.bands {
                    for (i, v) in content.enumerated() { p[b.content.lowerBound + i] = b.tail.contains(b.content.lowerBound + i) ? v * tailScale : v }
                }
                return p
            }
        }
        s.runs.global = global(tailScale: 1)
        let m = WeakerRecencyClaim().measure(s.wrap())!
        XCTAssertEqual(m["value"]!, 0.5, accuracy: 1e-12)
        XCTAssertNotEqual(m["share_unmatched"]!, 0.5, accuracy: 0.05)
        // Exactly no effect, without noise: reliably short of the minimum effect (0.55), so it fails.
        XCTAssertEqual(verdict(WeakerRecencyClaim(), s.wrap()).0, .fails)
        s.runs.global = global(tailScale: 0.5)
        XCTAssertEqual(verdict(WeakerRecencyClaim(), s.wrap()).0, .holds)
        s.runs.global = global(tailScale: 2)
        XCTAssertEqual(verdict(WeakerRecencyClaim(), s.wrap()).0, .fails)
    }

    // MARK: T12

    /// Exponential decay holds T12, a power law fails it.
    func testDecayShapes() {
        var s = SyntheticRuns()
        let D = 40
        s.runs.reachDistance = D
        s.runs.reach = (0..<s.runs.lhCount).flatMap { _ in (0..<D).map { exp(-0.15 * Double($0)) } }
        var r = verdict(ExponentialDecayClaim(), s.wrap())
        XCTAssertEqual(r.0, .holds); XCTAssertEqual(r.1, 1)
        s.runs.reach = (0..<s.runs.lhCount).flatMap { _ in (0..<D).map { pow(Double($0 + 1), -1.3) } }
        r = verdict(ExponentialDecayClaim(), s.wrap())
        XCTAssertEqual(r.0, .fails); XCTAssertEqual(r.1, 0)
    }

    // MARK: T10, T11, T7, T8

    func testOutlierConcentrationAndRelativeChange() {
        XCTAssertEqual(OutlierMapClaim.topQuarterShare([8, 0, 0, 0, 0, 0, 0, 0]), 1)
        XCTAssertEqual(OutlierMapClaim.topQuarterShare([1, 1, 1, 1, 1, 1, 1, 1]), 0.25)
        XCTAssertEqual(ConcentrationClaim.relativeChange(small: 0.2, large: 0.1), -0.5)
        XCTAssertEqual(SinkEvictionDepthClaim.statistic(early: -0.3, deep: 0.2), 0.2)
        XCTAssertLessThan(SinkEvictionDepthClaim.statistic(early: 0.3, deep: 0.2), 0)
        // Released mass all to the middle: its share of the gain (1) minus its share before (0.5).
        XCTAssertEqual(RecencyToMiddleClaim.statistic(midBefore: 1, sinkBefore: 1, midAfter: 2, sinkAfter: 1)!, 0.5)
        XCTAssertEqual(RecencyToMiddleClaim.statistic(midBefore: 1, sinkBefore: 1, midAfter: 1.5, sinkAfter: 1.5)!, 0)
        XCTAssertNil(RecencyToMiddleClaim.statistic(midBefore: 1, sinkBefore: 1, midAfter: 1, sinkAfter: 1))
    }
}
