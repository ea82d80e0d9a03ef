import ProbeAnalysis
import PCInference
import XCTest

/// The lab's statistics: identical policies separate at most at the nominal rate, a planted
/// difference is found, and the exact McNemar test matches the binomial by hand.
final class LabStatisticsTests: XCTestCase {
    /// Per-example outcomes of `k` policies on `n` examples whose difficulty varies: policy j
    /// succeeds with probability difficulty + shift[j].
    func simulate(n: Int, shifts: [Double], rng: inout SplitMix64) -> [String: [[Double]]] {
        let p = (0..<n).map { _ in 0.2 + 0.6 * Double(rng.next() % 1000) / 1000 }
        var out: [String: [[Double]]] = [:]
        for (j, s) in shifts.enumerated() {
            out["p\(j)"] = [p.map { Double(rng.next() % 1_000_000) / 1_000_000 < min(1, max(0, $0 + s)) ? 1 : 0 }]
        }
        return out
    }

    func testNullSimulationSeparatesAtMostAtNominalRate() {
        var rng = SplitMix64(seed: 11)
        let runs = 200
        var separated = 0
        for r in 0..<runs {
            let v = simulate(n: 50, shifts: [0, 0, 0, 0], rng: &rng)
            if LabStatistics.tiers(v.keys.sorted(), values: v, seed: UInt64(r)).count > 1 { separated += 1 }
        }
        // Nominal 5 % family-wise; allow two binomial standard errors over 200 runs.
        XCTAssertLessThanOrEqual(Double(separated) / Double(runs), 0.05 + 2 * (0.05 * 0.95 / Double(runs)).squareRoot(), "\(separated) of \(runs)")
    }

    func testPlantedDifferenceIsDetected() {
        var rng = SplitMix64(seed: 12)
        var found = 0
        for r in 0..<20 {
            let v = simulate(n: 100, shifts: [0.35, 0, 0], rng: &rng)
            let t = LabStatistics.tiers(v.keys.sorted(), values: v, seed: UInt64(r))
            if t.first == ["p0"] { found += 1 }
        }
        XCTAssertGreaterThanOrEqual(found, 18, "the better policy leads alone in \(found) of 20 runs")
        // Against off, the paired interval excludes zero.
        let v = simulate(n: 100, shifts: [0.35, 0], rng: &rng)
        let d = [zip(v["p0"]![0], v["p1"]![0]).map { $0 - $1 }]
        XCTAssertGreaterThan(LabStatistics.pairedInterval(d, seed: 1).low, 0)
    }

    func testMcNemarIsTheExactBinomial() {
        // 8 discordant, split 7:1: two-sided p = 2 * (C(8,0) + C(8,1)) / 2^8 = 18 / 256.
        let a = Array(repeating: true, count: 7) + [false] + Array(repeating: true, count: 5)
        let b = Array(repeating: false, count: 7) + [true] + Array(repeating: true, count: 5)
        let t = LabStatistics.mcnemar(a, b)
        XCTAssertEqual(t.aOnly, 7); XCTAssertEqual(t.bOnly, 1)
        XCTAssertEqual(t.p, 18.0 / 256, accuracy: 1e-12)
        XCTAssertEqual(LabStatistics.mcnemar(a, a).p, 1)
    }

    /// Too few examples bound nothing; equal strata weigh the same whatever their size.
    func testIntervalEdges() {
        XCTAssertEqual(LabStatistics.pairedInterval([[1, 0, 1]], seed: 1).low, -.infinity)
        let i = LabStatistics.pairedInterval([[1, 1, 1, 1, 1], Array(repeating: 0, count: 50)], seed: 1)
        XCTAssertEqual(i.mean, 0.5, accuracy: 1e-12)
        XCTAssertEqual(i.low, 0.5, accuracy: 1e-12); XCTAssertEqual(i.high, 0.5, accuracy: 1e-12)
    }
}
