import ProbeAnalysis
import XCTest

final class BootstrapTests: XCTestCase {
    /// Same values and seed, same interval; the interval holds the mean and narrows with more examples.
    func testDeterministicAndSensible() {
        let v = (0..<20).map { Double(($0 * 7) % 11) / 10 }
        let a = Bootstrap.meanInterval(v, seed: 42), b = Bootstrap.meanInterval(v, seed: 42)
        XCTAssertEqual(a.low, b.low); XCTAssertEqual(a.high, b.high)
        XCTAssertLessThan(a.low, a.mean); XCTAssertGreaterThan(a.high, a.mean)
        let wide = Bootstrap.meanInterval(Array(v.prefix(6)), seed: 42)
        XCTAssertGreaterThan(wide.high - wide.low, a.high - a.low)
        // Fewer than 5 examples bound nothing.
        let few = Bootstrap.meanInterval([0.9, 0.95, 1.0], seed: 1)
        XCTAssertEqual(few.low, -.infinity)
        XCTAssertEqual(Threshold(value: 0.5, direction: .above).verdict(low: few.low, high: few.high), .inconclusive)
    }

    /// The interval must clear the threshold for a verdict, in either direction.
    func testVerdicts() {
        let above = Threshold(value: 0.5, direction: .above), below = Threshold(value: 0.1, direction: .below)
        XCTAssertEqual(above.verdict(low: 0.55, high: 0.7), .holds)
        XCTAssertEqual(above.verdict(low: 0.2, high: 0.45), .fails)
        XCTAssertEqual(above.verdict(low: 0.45, high: 0.7), .inconclusive)
        XCTAssertEqual(below.verdict(low: -0.2, high: 0.05), .holds)
        XCTAssertEqual(below.verdict(low: 0.2, high: 0.3), .fails)
        XCTAssertEqual(below.verdict(low: .nan, high: 0.3), .inconclusive)
        // A mean above the threshold whose interval straddles it is not a verdict.
        let noisy = [0.9, 0.1, 0.8, 0.2, 0.9, 0.3, 0.7, 0.4]
        let b = Bootstrap.meanInterval(noisy, seed: 3)
        XCTAssertGreaterThan(b.mean, 0.5)
        XCTAssertEqual(above.verdict(low: b.low, high: b.high), .inconclusive)
    }

    /// Every claim has a quoted sentence, a statistic, confounds; at least 15 paper claims.
    func testCatalog() {
        let ids = ClaimCatalog.all.map(\.id)
        XCTAssertEqual(Set(ids).count, ids.count)
        XCTAssertGreaterThanOrEqual(ClaimCatalog.all.filter { $0.kind != .observation }.count, 15)
        for c in ClaimCatalog.all { XCTAssertFalse(c.sentence.isEmpty || c.statistic.isEmpty || c.confounds.isEmpty, c.id) }
    }
}
