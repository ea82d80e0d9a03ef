// Tick placement ("nice" numbers, decades), compact number formatting, label thinning.
import Foundation

public enum Ticks {
    /// Multiples of a nice step (1, 2, 2.5 or 5 times a power of ten) inside `min...max`,
    /// at most `maxCount` of them (and at least 2 when the range allows).
    public static func linear(min lo: Double, max hi: Double, maxCount: Int = 6) -> [Double] {
        guard lo.isFinite, hi.isFinite else { return [] }
        if hi <= lo { return [lo] }
        let step = niceStep(min: lo, max: hi, maxCount: maxCount)
        let first = (lo / step - 1e-9).rounded(.up), last = (hi / step + 1e-9).rounded(.down)
        guard last >= first else { return [] }
        return stride(from: first, through: last, by: 1).map { i in
            let v = i * step
            return abs(v) < step * 1e-9 ? 0 : v
        }
    }

    /// The smallest nice step giving at most `maxCount` ticks in the range.
    public static func niceStep(min lo: Double, max hi: Double, maxCount: Int) -> Double {
        let span = hi - lo
        let target = max(1, maxCount)
        var exponent = (log10(span / Double(target))).rounded(.down) - 1
        while true {
            let base = pow(10, exponent)
            for m in [1.0, 2.0, 2.5, 5.0] {
                let step = m * base
                let count = (hi / step + 1e-9).rounded(.down) - (lo / step - 1e-9).rounded(.up) + 1
                if count <= Double(target) { return step }
            }
            exponent += 1
        }
    }

    /// Ticks for a log axis: powers of ten inside the range, every k-th decade when there are
    /// more than `maxCount`; with fewer than 3 decades, 2x and 5x multiples are added.
    public static func log(min lo: Double, max hi: Double, maxCount: Int = 6) -> [Double] {
        guard lo > 0, hi > lo, lo.isFinite, hi.isFinite else { return lo > 0 ? [lo] : [] }
        let e0 = Int((log10(lo) - 1e-9).rounded(.up)), e1 = Int((log10(hi) + 1e-9).rounded(.down))
        var decades = e1 >= e0 ? Array(e0...e1) : []
        if decades.count > maxCount {
            let k = Int((Double(decades.count) / Double(maxCount)).rounded(.up))
            decades = decades.filter { (($0 % k) + k) % k == 0 }
        }
        var ticks = decades.map { pow(10, Double($0)) }
        if ticks.count < 3 {
            var extra: [Double] = []
            let d0 = Int(log10(lo).rounded(.down)), d1 = Int(log10(hi).rounded(.up))
            for e in d0...d1 {
                for m in [1.0, 2.0, 5.0] {
                    let v = m * pow(10, Double(e))
                    if v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9) { extra.append(v) }
                }
            }
            if extra.count <= maxCount { ticks = extra }
        }
        return ticks
    }

    /// Minor ticks for a log axis: 2...9 times each power of ten inside the range.
    public static func logMinor(min lo: Double, max hi: Double) -> [Double] {
        guard lo > 0, hi > lo else { return [] }
        let d0 = Int(log10(lo).rounded(.down)), d1 = Int(log10(hi).rounded(.up))
        guard d1 - d0 <= 40 else { return [] }
        var out: [Double] = []
        for e in d0...d1 {
            for m in 2...9 {
                let v = Double(m) * pow(10, Double(e))
                if v >= lo && v <= hi { out.append(v) }
            }
        }
        return out
    }

    /// Labels for a set of ticks, formatted alike: fixed decimals just sufficient to tell
    /// neighbours apart, or compact scientific ("1.5e-3") for very small or large values.
    public static func labels(_ ticks: [Double], log: Bool = false) -> [String] {
        guard !ticks.isEmpty else { return [] }
        if log { return ticks.map { NumberFormat.compact($0) } }
        let mag = ticks.map { abs($0) }.max() ?? 0
        var step = Double.infinity
        for i in 1..<max(1, ticks.count) { step = min(step, abs(ticks[i] - ticks[i - 1])) }
        if !step.isFinite || step == 0 { step = mag == 0 ? 1 : mag }
        if mag >= 1e5 || mag < 1e-2 && mag > 0 || step < 1e-4 {
            return ticks.map { NumberFormat.scientific($0, significantDigits: 3) }
        }
        // Decimals needed to show the step exactly (e.g. 0.25 -> 2).
        var decimals = 0
        while decimals < 8 {
            let scaled = step * pow(10, Double(decimals))
            if abs(scaled - scaled.rounded()) < 1e-6 * max(1, scaled) { break }
            decimals += 1
        }
        return ticks.map { NumberFormat.fixed($0, decimals: decimals) }
    }

    /// Which of `count` evenly spaced labels to show so that none overlap: every k-th, with k
    /// from 1, 2, 5, 10, 20, 50, ... the smallest for which `k * spacing >= extent + gap`.
    /// Indices start at 0.
    public static func thinned(count: Int, spacing: Double, extent: Int, gap: Int = 6) -> [Int] {
        guard count > 0 else { return [] }
        let need = Double(extent + gap)
        var k = 1
        var mult = 1
        let seq = [1, 2, 5]
        var i = 0
        while Double(k) * spacing < need && k < count {
            i += 1
            if i == seq.count { i = 0; mult *= 10 }
            k = seq[i] * mult
        }
        return Array(stride(from: 0, to: count, by: k))
    }
}

/// Compact, locale-independent number formatting (pure Swift, so output is deterministic).
public enum NumberFormat {
    /// A short form: "0", "0.12", "3.5", "1500", "1.5e-3", "2.5e6". Plain decimals are used
    /// for 0.01 <= |v| < 1e5, scientific outside, with up to `significantDigits` digits.
    public static func compact(_ v: Double, significantDigits: Int = 3) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "inf" : "-inf" }
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e5 || a < 1e-2 { return scientific(v, significantDigits: significantDigits) }
        let e = Int(log10(a).rounded(.down))
        let decimals = max(0, significantDigits - 1 - e)
        return trimZeros(fixed(v, decimals: decimals))
    }

    /// Scientific form with trailing zeros trimmed: 0.0015 -> "1.5e-3", 2e6 -> "2e6".
    public static func scientific(_ v: Double, significantDigits: Int = 3) -> String {
        if v == 0 { return "0" }
        if !v.isFinite { return compact(v) }
        var e = Int(log10(abs(v)).rounded(.down))
        var m = v / pow(10, Double(e))
        let digits = max(0, significantDigits - 1)
        let f = pow(10, Double(digits))
        m = (m * f).rounded() / f
        if abs(m) >= 10 { m /= 10; e += 1 }
        return trimZeros(fixed(m, decimals: digits)) + "e\(e)"
    }

    /// `v` rounded to `decimals` places, no exponent, no "-0".
    public static func fixed(_ v: Double, decimals: Int) -> String {
        if !v.isFinite { return compact(v) }
        let d = max(0, min(12, decimals))
        let scale = pow(10, Double(d))
        let scaledMagnitude = (abs(v) * scale).rounded()
        guard scaledMagnitude < 9e15 else { return scientific(v) }
        let n = Int64(scaledMagnitude)
        let p = Int64(scale)
        var s = String(n / p)
        if d > 0 {
            var frac = String(n % p)
            while frac.count < d { frac = "0" + frac }
            s += "." + frac
        }
        return (v < 0 && n != 0 ? "-" : "") + s
    }

    static func trimZeros(_ s: String) -> String {
        guard s.contains(".") else { return s }
        var t = s
        while t.hasSuffix("0") { t.removeLast() }
        if t.hasSuffix(".") { t.removeLast() }
        return t
    }
}
