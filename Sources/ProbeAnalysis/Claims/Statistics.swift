import Foundation
import PCInference

/// The distributions the claim statistics need, in float64, with no dependency: Student-t and
/// the standard normal (CDF and quantile), and Holm's step-down adjustment.
public enum Stats {
    /// Regularised incomplete beta I_x(a, b) by its continued fraction (modified Lentz); the
    /// symmetry I_x(a, b) = 1 - I_{1-x}(b, a) keeps the fraction in its fast-converging range.
    public static func incompleteBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let lnBeta: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
        let lnFront: Double = lnBeta + a * log(x) + b * log(1 - x)
        if x > (a + 1) / (a + b + 2) { return 1 - incompleteBeta(1 - x, b, a) }
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var f = d
        for m in 1...300 {
            let m2 = Double(2 * m), md = Double(m)
            let den1: Double = (a + m2 - 1) * (a + m2)
            var num: Double = md * (b - md) * x / den1
            d = 1 + num * d; if abs(d) < tiny { d = tiny }; c = 1 + num / c; if abs(c) < tiny { c = tiny }; d = 1 / d; f *= d * c
            let den2: Double = (a + m2) * (a + m2 + 1)
            num = -(a + md) * (a + b + md) * x / den2
            d = 1 + num * d; if abs(d) < tiny { d = tiny }; c = 1 + num / c; if abs(c) < tiny { c = tiny }; d = 1 / d
            let step = d * c; f *= step
            if abs(step - 1) < 1e-15 { break }
        }
        return exp(lnFront) * f / a
    }

    /// P(T <= t) for Student's t with `df` degrees of freedom.
    public static func tCDF(_ t: Double, df: Double) -> Double {
        if t.isNaN { return .nan }
        if t == .infinity { return 1 }
        if t == -.infinity { return 0 }
        let tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5)
        return t > 0 ? 1 - tail : tail
    }

    /// The p-quantile of Student's t (bisection on the CDF, exact to 1e-11; remembered per
    /// (p, df), since a report asks for the same few again and again).
    public static func tQuantile(_ p: Double, df: Double) -> Double {
        precondition(p > 0 && p < 1)
        let key = "\(p) \(df)"
        quantileLock.lock(); let known = quantiles[key]; quantileLock.unlock()
        if let known { return known }
        var lo = -1e3, hi = 1e3
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if tCDF(mid, df: df) < p { lo = mid } else { hi = mid }
            if hi - lo < 1e-11 { break }
        }
        quantileLock.lock(); quantiles[key] = (lo + hi) / 2; quantileLock.unlock()
        return (lo + hi) / 2
    }
    private static let quantileLock = NSLock()
    nonisolated(unsafe) private static var quantiles: [String: Double] = [:]

    public static func normalCDF(_ z: Double) -> Double { 0.5 * erfc(-z / 2.0.squareRoot()) }

    public static func normalQuantile(_ p: Double) -> Double {
        if p <= 0 { return -.infinity }
        if p >= 1 { return .infinity }
        var lo = -40.0, hi = 40.0
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if normalCDF(mid) < p { lo = mid } else { hi = mid }
            if hi - lo < 1e-13 { break }
        }
        return (lo + hi) / 2
    }

    /// Holm's step-down adjusted p-values (same order as the input; NaN stays NaN and does not
    /// count towards the family size).
    public static func holm(_ p: [Double]) -> [Double] {
        let idx = p.indices.filter { p[$0].isFinite }.sorted { p[$0] < p[$1] }
        let m = idx.count
        var out = p.map { $0.isFinite ? $0 : .nan }
        var running = 0.0
        for (rank, i) in idx.enumerated() {
            running = max(running, min(1, Double(m - rank) * p[i]))
            out[i] = running
        }
        return out
    }
}

/// One sample's mean with its intervals: Student-t (the headline) and BCa bootstrap (beside it).
public struct MeanInterval: Codable, Sendable, Equatable {
    public var mean: Double
    /// Standard error of the mean; NaN below two units.
    public var se: Double
    /// Units: examples, or configurations when examples share one (cluster means).
    public var n: Int
    public var low: Double, high: Double
    public var bcaLow: Double, bcaHigh: Double

    /// Below this many units no interval is given and no verdict drawn (the t interval exists
    /// from two, but a verdict from two or three units is a coin's worth of evidence).
    public static let minimumUnits = 5

    public init(mean: Double, se: Double, n: Int, low: Double, high: Double, bcaLow: Double, bcaHigh: Double) {
        self.mean = mean; self.se = se; self.n = n; self.low = low; self.high = high; self.bcaLow = bcaLow; self.bcaHigh = bcaHigh
    }

    /// 95 % two-sided intervals (so one-sided tests at 2.5 %, matching `ClaimTest.alpha`).
    public static func of(_ values: [Double], seed: UInt64, resamples: Int = 2000) -> MeanInterval {
        let v = values.filter(\.isFinite)
        guard !v.isEmpty else { return MeanInterval(mean: .nan, se: .nan, n: 0, low: .nan, high: .nan, bcaLow: .nan, bcaHigh: .nan) }
        let n = Double(v.count)
        let mean = v.reduce(0, +) / n
        guard v.count >= minimumUnits else {
            return MeanInterval(mean: mean, se: .nan, n: v.count, low: -.infinity, high: .infinity, bcaLow: -.infinity, bcaHigh: .infinity)
        }
        let sd = (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)).squareRoot()
        let se = sd / n.squareRoot()
        let t = Stats.tQuantile(1 - ClaimTest.alpha, df: n - 1)
        let bca = resamples > 0 ? Self.bca(v, mean: mean, seed: seed, resamples: resamples) : (Double.nan, Double.nan)
        return MeanInterval(mean: mean, se: se, n: v.count, low: mean - t * se, high: mean + t * se, bcaLow: bca.0, bcaHigh: bca.1)
    }

    /// Bias-corrected and accelerated bootstrap interval of the mean (Efron 1987): the bias
    /// correction from the share of resampled means below the mean, the acceleration from the
    /// jackknife's skewness. Equal values give a zero-width interval at the mean.
    public static func bca(_ v: [Double], mean: Double, seed: UInt64, resamples: Int) -> (Double, Double) {
        let n = v.count
        if v.allSatisfy({ $0 == v[0] }) { return (mean, mean) }
        var rng = SplitMix64(seed: seed)
        var means = [Double](repeating: 0, count: resamples)
        for r in 0..<resamples {
            var s = 0.0
            for _ in 0..<n { s += v[Int(rng.next() % UInt64(n))] }
            means[r] = s / Double(n)
        }
        means.sort()
        let below = Double(means.filter { $0 < mean }.count) + 0.5 * Double(means.filter { $0 == mean }.count)
        let z0 = Stats.normalQuantile(min(max(below / Double(resamples), 1e-6), 1 - 1e-6))
        let total = v.reduce(0, +)
        let jack = v.map { (total - $0) / Double(n - 1) }
        let jm = jack.reduce(0, +) / Double(n)
        let num = jack.reduce(0) { $0 + pow(jm - $1, 3) }, den = jack.reduce(0) { $0 + pow(jm - $1, 2) }
        let a = den > 0 ? num / (6 * pow(den, 1.5)) : 0
        func bound(_ p: Double) -> Double {
            let z = Stats.normalQuantile(p)
            let adj = Stats.normalCDF(z0 + (z0 + z) / (1 - a * (z0 + z)))
            let i = min(resamples - 1, max(0, Int((adj * Double(resamples - 1)).rounded())))
            return means[i]
        }
        return (bound(ClaimTest.alpha), bound(1 - ClaimTest.alpha))
    }

    /// One-sided p-value of "the true mean exceeds `value`" being false, i.e. P(T >= t) under
    /// mean = value. A zero-variance sample gives 0 or 1.
    public func pAbove(_ value: Double) -> Double {
        guard n >= Self.minimumUnits, mean.isFinite else { return .nan }
        guard se > 0 else { return mean > value ? 0 : 1 }
        return 1 - Stats.tCDF((mean - value) / se, df: Double(n - 1))
    }
    public func pBelow(_ value: Double) -> Double {
        guard n >= Self.minimumUnits, mean.isFinite else { return .nan }
        guard se > 0 else { return mean < value ? 0 : 1 }
        return Stats.tCDF((mean - value) / se, df: Double(n - 1))
    }
}
