import Foundation
import PCInference

/// The lab comparison's statistics: paired bootstrap intervals of each point against `off`,
/// exact McNemar tests between points on per-example correctness, and a ranking that orders
/// two points only when their paired interval, Bonferroni-corrected over every pair, excludes
/// zero (points that cannot be told apart share a tier).
public enum LabStatistics {
    public struct Interval: Codable, Equatable, Sendable {
        public var mean: Double, low: Double, high: Double, n: Int
        public var separatesFromZero: Bool { low > 0 || high < 0 }
    }

    /// Percentile bootstrap of the mean of paired differences, resampling examples within each
    /// stratum (task) and averaging the strata's means, so every task weighs the same. Fewer than
    /// 5 examples in a stratum bound nothing: an infinite interval.
    public static func pairedInterval(_ strata: [[Double]], level: Double = 0.95, resamples: Int = 4000, seed: UInt64) -> Interval {
        let s = strata.map { $0.filter(\.isFinite) }.filter { !$0.isEmpty }
        let n = s.reduce(0) { $0 + $1.count }
        guard !s.isEmpty else { return Interval(mean: .nan, low: .nan, high: .nan, n: 0) }
        let mean = s.map { $0.reduce(0, +) / Double($0.count) }.reduce(0, +) / Double(s.count)
        guard s.allSatisfy({ $0.count >= Bootstrap.minimumExamples }) else { return Interval(mean: mean, low: -.infinity, high: .infinity, n: n) }
        var rng = SplitMix64(seed: seed)
        var means = [Double](repeating: 0, count: resamples)
        for r in 0..<resamples {
            var total = 0.0
            for v in s {
                var t = 0.0
                for _ in 0..<v.count { t += v[Int(rng.next() % UInt64(v.count))] }
                total += t / Double(v.count)
            }
            means[r] = total / Double(s.count)
        }
        means.sort()
        let a = (1 - level) / 2
        func q(_ p: Double) -> Double { means[min(resamples - 1, max(0, Int((p * Double(resamples - 1)).rounded())))] }
        return Interval(mean: mean, low: q(a), high: q(1 - a), n: n)
    }

    public struct McNemar: Codable, Equatable, Sendable {
        /// Examples A got right and B wrong, and the reverse.
        public var aOnly: Int, bOnly: Int
        public var p: Double
    }

    /// Exact (binomial) McNemar test on paired correctness: two-sided p of the discordant split.
    public static func mcnemar(_ a: [Bool], _ b: [Bool]) -> McNemar {
        var ab = 0, ba = 0
        for (x, y) in zip(a, b) { if x && !y { ab += 1 } else if !x && y { ba += 1 } }
        let n = ab + ba
        guard n > 0 else { return McNemar(aOnly: 0, bOnly: 0, p: 1) }
        // P(X <= min) under Binomial(n, 1/2), in logs to stay finite for large n.
        let k = min(ab, ba)
        var cdf = 0.0
        for i in 0...k { cdf += exp(lgamma(Double(n + 1)) - lgamma(Double(i + 1)) - lgamma(Double(n - i + 1)) - Double(n) * log(2)) }
        return McNemar(aOnly: ab, bOnly: ba, p: min(1, 2 * cdf))
    }

    /// Tiers of points, best first: sorted by mean, a point joins the current tier unless the
    /// paired interval between it and the tier's head (Bonferroni level over all pairs)
    /// excludes zero. `values[point]` is per stratum, per example (the same examples for all).
    public static func tiers(_ names: [String], values: [String: [[Double]]], alpha: Double = 0.05, seed: UInt64) -> [[String]] {
        let pairs = max(1, names.count * (names.count - 1) / 2)
        func mean(_ p: String) -> Double {
            let s = values[p]!.map { $0.filter(\.isFinite) }.filter { !$0.isEmpty }
            return s.isEmpty ? -.infinity : s.map { $0.reduce(0, +) / Double($0.count) }.reduce(0, +) / Double(s.count)
        }
        let sorted = names.sorted { (mean($0), $1) > (mean($1), $0) }
        var out: [[String]] = []
        for p in sorted {
            if let head = out.last?.first {
                let d = zip(values[head]!, values[p]!).map { zip($0, $1).map { $0 - $1 } }
                let i = pairedInterval(d, level: 1 - alpha / Double(pairs), seed: seed ^ UInt64(truncatingIfNeeded: (head + "|" + p).hashValueStable))
                if !i.separatesFromZero { out[out.count - 1].append(p); continue }
            }
            out.append([p])
        }
        return out
    }
}

extension String {
    /// FNV-1a of the UTF-8 bytes: a seed that is the same in every process (hashValue is not).
    public var hashValueStable: UInt64 { utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 } }
}
