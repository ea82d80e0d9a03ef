// Mapping from data values to colours: range, linear or log, and the NaN colour.
import Foundation

/// Maps values to colours of a `Colormap`.
///
/// - Linear: `t = (v - vmin) / (vmax - vmin)`, clamped to 0...1.
/// - Log: `t = (log10 v - log10 floor) / (log10 vmax - log10 floor)`, clamped. The floor is
///   `vmin` when `vmin > 0`, otherwise `vmax * 1e-6` (or 1e-6 when `vmax <= 0` too). Every value
///   at or below the floor — including 0 and negative values — is clamped to the floor and so
///   gets the map's first colour.
/// - NaN never takes a map colour: it gets `nanColor` (mid grey by default), and a colour bar
///   lists it as "NaN" when the data contains NaN. +inf and -inf clamp to the ends.
/// - A degenerate range (vmax <= vmin) maps every finite value to the middle colour.
public struct ColorScale: Sendable, Hashable {
    public enum Mapping: Sendable, Hashable { case linear, log }

    public var colormap: Colormap
    public var vmin: Double
    public var vmax: Double
    public var mapping: Mapping
    public var nanColor: RGBA

    public static let defaultNaNColor = RGBA(128, 128, 128)

    public init(colormap: Colormap = .viridis, vmin: Double, vmax: Double,
                mapping: Mapping = .linear, nanColor: RGBA = ColorScale.defaultNaNColor) {
        self.colormap = colormap
        self.vmin = vmin
        self.vmax = vmax
        self.mapping = mapping
        self.nanColor = nanColor
    }

    /// A scale spanning the finite values (NaN and ±inf ignored). `symmetric` centres a linear
    /// range on 0 (`-m...m` with `m` the largest magnitude), for diverging maps. For `.log`,
    /// `vmin` is the smallest positive value. Constant data gets a small range around it.
    public static func fitting<S: Sequence>(_ values: S, colormap: Colormap = .viridis,
                                            mapping: Mapping = .linear, symmetric: Bool = false)
        -> ColorScale where S.Element: BinaryFloatingPoint {
        var lo = Double.infinity, hi = -Double.infinity, minPositive = Double.infinity
        for v in values {
            let d = Double(v)
            guard d.isFinite else { continue }
            lo = min(lo, d); hi = max(hi, d)
            if d > 0 { minPositive = min(minPositive, d) }
        }
        if !lo.isFinite { lo = 0; hi = 1; minPositive = 1 }
        switch mapping {
        case .log:
            guard minPositive.isFinite, hi > 0 else {
                return ColorScale(colormap: colormap, vmin: 1e-6, vmax: 1, mapping: .log)
            }
            if hi <= minPositive { return ColorScale(colormap: colormap, vmin: hi / 10, vmax: hi * 10, mapping: .log) }
            return ColorScale(colormap: colormap, vmin: minPositive, vmax: hi, mapping: .log)
        case .linear:
            if symmetric {
                var m = max(abs(lo), abs(hi))
                if m == 0 { m = 1 }
                return ColorScale(colormap: colormap, vmin: -m, vmax: m)
            }
            if hi <= lo {
                let pad = lo == 0 ? 1 : abs(lo) * 0.1
                return ColorScale(colormap: colormap, vmin: lo - pad, vmax: hi + pad)
            }
            return ColorScale(colormap: colormap, vmin: lo, vmax: hi)
        }
    }

    /// The effective lower bound: `vmin`, or for log scales the documented floor.
    public var floor: Double {
        guard mapping == .log else { return vmin }
        if vmin > 0 { return vmin }
        return vmax > 0 ? vmax * 1e-6 : 1e-6
    }

    /// Position of `v` along the map in 0...1, or nil for NaN.
    public func fraction(_ v: Double) -> Double? {
        if v.isNaN { return nil }
        let lo = floor
        switch mapping {
        case .linear:
            guard vmax > lo else { return 0.5 }
            return min(1, max(0, (v - lo) / (vmax - lo)))
        case .log:
            guard vmax > lo else { return 0.5 }
            if v <= lo { return 0 }
            return min(1, max(0, (log10(v) - log10(lo)) / (log10(vmax) - log10(lo))))
        }
    }

    /// The value at fraction `t` (inverse of `fraction` inside the range).
    public func value(atFraction t: Double) -> Double {
        let lo = floor
        switch mapping {
        case .linear: return lo + t * (vmax - lo)
        case .log: return pow(10, log10(lo) + t * (log10(vmax) - log10(lo)))
        }
    }

    public func color(_ v: Double) -> RGBA {
        guard let t = fraction(v) else { return nanColor }
        return colormap.color(at: t)
    }

    public func color(_ v: Float) -> RGBA { color(Double(v)) }

    /// Tick values for a colour bar: nice linear ticks, or powers of ten (with 2 and 5 when the
    /// range spans few decades) for log scales. All lie within the range.
    public func ticks(maxCount: Int = 6) -> [Double] {
        switch mapping {
        case .linear: return Ticks.linear(min: floor, max: vmax, maxCount: maxCount)
        case .log: return Ticks.log(min: floor, max: vmax, maxCount: maxCount)
        }
    }
}
