import Foundation
import PCInference

/// Percentile bootstrap over examples: the examples are the unit of resampling (they are the
/// independent draws; heads and chunks within one example are not).
public enum Bootstrap {
    public static let minimumExamples = 5

    /// 95 % interval of the mean of `values` (NaNs dropped), from `resamples` draws of a
    /// SplitMix64 seeded with `seed`: the same inputs give the same interval on every machine.
    public static func meanInterval(_ values: [Double], seed: UInt64, resamples: Int = 2000, level: Double = 0.95) -> (mean: Double, low: Double, high: Double) {
        let v = values.filter { $0.isFinite }
        guard !v.isEmpty else { return (.nan, .nan, .nan) }
        let mean = v.reduce(0, +) / Double(v.count)
        // A percentile bootstrap of fewer than 5 examples bounds nothing: no verdict from it.
        guard v.count >= minimumExamples else { return (mean, -.infinity, .infinity) }
        var rng = SplitMix64(seed: seed)
        var means = [Double](repeating: 0, count: resamples)
        for r in 0..<resamples {
            var s = 0.0
            for _ in 0..<v.count { s += v[Int(rng.next() % UInt64(v.count))] }
            means[r] = s / Double(v.count)
        }
        means.sort()
        let a = (1 - level) / 2
        func q(_ p: Double) -> Double { means[min(resamples - 1, max(0, Int((p * Double(resamples - 1)).rounded())))] }
        return (mean, q(a), q(1 - a))
    }

    /// A claim's own seed: runs of different claims do not share draws, and adding a claim
    /// does not change the others' intervals.
    public static func seed(base: UInt64, claim id: String) -> UInt64 {
        id.utf8.reduce(base ^ 0xC1A1_5EED) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
    }
}

/// Mean over examples and interval for every claim, from the per-example numbers.
public enum ClaimAggregate {
    public static func outcomes(_ claims: [any Claim], rows: [ExampleRow], seed: UInt64) -> [ClaimOutcome] {
        claims.map { c in
            let measured = rows.compactMap { $0.claims[c.id] }
            let b = Bootstrap.meanInterval(measured.compactMap { $0["value"] }, seed: Bootstrap.seed(base: seed, claim: c.id))
            var numbers: [String: Double] = [:]
            for key in Set(measured.flatMap(\.keys)) where key != "value" {
                let v = measured.compactMap { $0[key] }.filter(\.isFinite)
                if !v.isEmpty { numbers[key] = v.reduce(0, +) / Double(v.count) }
            }
            let n = measured.filter { ($0["value"] ?? .nan).isFinite }.count
            return ClaimOutcome(id: c.id, kind: c.kind, sentence: c.sentence, statistic: c.statistic, threshold: c.threshold,
                                confounds: c.confounds, estimate: b.mean, low: b.low, high: b.high, examples: n,
                                verdict: c.threshold.verdict(low: b.low, high: b.high), numbers: numbers)
        }
    }
}
