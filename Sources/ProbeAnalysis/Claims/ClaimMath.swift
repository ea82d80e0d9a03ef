import Foundation

/// Small numeric helpers the claim statistics share.
public enum ClaimMath {
    public static func mean(_ a: [Double]) -> Double {
        let v = a.filter(\.isFinite)
        return v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count)
    }

    /// Share of the items that are true, counting ties (nil) as half: an exact tie favours
    /// neither side, so symmetric data gives 0.5.
    public static func share(_ outcomes: [Bool?]) -> Double {
        guard !outcomes.isEmpty else { return .nan }
        return outcomes.reduce(0.0) { $0 + ($1.map { $0 ? 1 : 0 } ?? 0.5) } / Double(outcomes.count)
    }

    /// a < b, nil when equal to float precision (relative 1e-6).
    public static func less(_ a: Double, _ b: Double) -> Bool? {
        guard a.isFinite, b.isFinite else { return nil }
        if abs(a - b) <= 1e-6 * max(abs(a), abs(b)) { return nil }
        return a < b
    }

    /// Least-squares R^2 of y on x.
    public static func r2(_ x: [Double], _ y: [Double]) -> Double {
        let n = Double(x.count)
        guard n >= 3 else { return .nan }
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) * (x[i] - mx); syy += (y[i] - my) * (y[i] - my) }
        guard sxx > 0, syy > 0 else { return .nan }
        return sxy * sxy / (sxx * syy)
    }

    /// Peaks of a score vector: positions whose 5-wide moving average exceeds k times the median
    /// of the moving averages.
    public static func peaks(_ s: [Double], k: Double) -> Int {
        guard s.count > 5 else { return 0 }
        var sm = [Double](repeating: 0, count: s.count)
        for i in 0..<s.count {
            let lo = max(0, i - 2), hi = min(s.count - 1, i + 2)
            sm[i] = s[lo...hi].reduce(0, +) / Double(hi - lo + 1)
        }
        let med = sm.sorted()[sm.count / 2]
        return sm.filter { $0 > k * med }.count
    }

    /// Entropy-change statistics read the mean of a head list.
    public static func meanOver(_ a: [Double], _ idx: [Int]) -> Double { mean(idx.map { a[$0] }) }
}

/// The bias ratio that counts as elevated: k times the uniform share (paper-claims section 7.1).
public let elevatedRatio = 3.0
