import XCTest
import Heatmap

final class ScaleAndTicksTests: XCTestCase {
    func testLinearScale() {
        let s = ColorScale(colormap: .viridis, vmin: 2, vmax: 4)
        XCTAssertEqual(s.color(2.0), Colormap.viridis.first)
        XCTAssertEqual(s.color(4.0), Colormap.viridis.last)
        XCTAssertEqual(s.color(3.0), Colormap.viridis.colors[128])
        XCTAssertEqual(s.color(-100.0), Colormap.viridis.first)
        XCTAssertEqual(s.color(Double.infinity), Colormap.viridis.last)
    }

    func testNaNGetsTheNaNColourNotAMapColour() {
        let s = ColorScale(colormap: .viridis, vmin: 0, vmax: 1)
        XCTAssertEqual(s.color(Float.nan), ColorScale.defaultNaNColor)
        XCTAssertNil(s.fraction(.nan))
        XCTAssertFalse(Colormap.viridis.colors.contains(s.nanColor))
        XCTAssertFalse(Colormap.magma.colors.contains(s.nanColor))
        XCTAssertFalse(Colormap.blueWhiteRed.colors.contains(s.nanColor))
        var custom = s
        custom.nanColor = RGBA(255, 0, 255)
        XCTAssertEqual(custom.color(Double.nan), RGBA(255, 0, 255))
    }

    func testLogScaleClampsZeroAndNegativeToTheFloor() {
        let s = ColorScale(colormap: .magma, vmin: 1e-4, vmax: 1, mapping: .log)
        XCTAssertEqual(s.floor, 1e-4)
        XCTAssertEqual(s.color(0.0), Colormap.magma.first)
        XCTAssertEqual(s.color(-5.0), Colormap.magma.first)
        XCTAssertEqual(s.color(1e-9), Colormap.magma.first)
        XCTAssertEqual(s.color(1e-4), Colormap.magma.first)
        XCTAssertEqual(s.color(1.0), Colormap.magma.last)
        XCTAssertEqual(s.fraction(1e-2)!, 0.5, accuracy: 1e-12)  // geometric middle
        XCTAssertEqual(s.fraction(1e-3)!, 0.25, accuracy: 1e-12)
        // A non-positive vmin falls back to vmax * 1e-6, as documented.
        let z = ColorScale(vmin: 0, vmax: 10, mapping: .log)
        XCTAssertEqual(z.floor, 1e-5, accuracy: 1e-18)
        XCTAssertEqual(z.fraction(0)!, 0)
        XCTAssertEqual(z.fraction(1e-5)!, 0)
        XCTAssertEqual(z.fraction(10)!, 1)
    }

    func testFittingIgnoresNaNAndInfinity() {
        let v: [Float] = [.nan, 0.5, -2, .infinity, 3, -.infinity]
        let s = ColorScale.fitting(v)
        XCTAssertEqual(s.vmin, -2); XCTAssertEqual(s.vmax, 3)
        let sym = ColorScale.fitting(v, colormap: .blueWhiteRed, symmetric: true)
        XCTAssertEqual(sym.vmin, -3); XCTAssertEqual(sym.vmax, 3)
        let log = ColorScale.fitting(v, mapping: .log)
        XCTAssertEqual(log.vmin, 0.5); XCTAssertEqual(log.vmax, 3)
        let constant = ColorScale.fitting([Float](repeating: 2, count: 4))
        XCTAssertLessThan(constant.vmin, 2); XCTAssertGreaterThan(constant.vmax, 2)
    }

    func testNiceLinearTicks() {
        XCTAssertEqual(Ticks.linear(min: 0, max: 1, maxCount: 6), [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])
        XCTAssertEqual(Ticks.labels(Ticks.linear(min: 0, max: 1, maxCount: 6)), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        XCTAssertEqual(Ticks.labels(Ticks.linear(min: -0.013, max: 0.021, maxCount: 5)),
                       ["-0.01", "0.00", "0.01", "0.02"])
        XCTAssertEqual(Ticks.labels(Ticks.linear(min: 0, max: 1000, maxCount: 5)), ["0", "250", "500", "750", "1000"])
        XCTAssertEqual(Ticks.labels([0, 0.002, 0.004]), ["0", "2e-3", "4e-3"])
        XCTAssertEqual(Ticks.labels(Ticks.linear(min: 0, max: 0.0004, maxCount: 5)),
                       ["0", "1e-4", "2e-4", "3e-4", "4e-4"])
        for (lo, hi) in [(0.0, 1.0), (-3.7, 12.2), (1e-3, 2e-3), (5.0, 5000.0)] {
            let t = Ticks.linear(min: lo, max: hi, maxCount: 6)
            XCTAssertTrue(t.count >= 2 && t.count <= 6, "\(lo)...\(hi): \(t)")
            XCTAssertTrue(t.allSatisfy { $0 >= lo - 1e-12 && $0 <= hi + 1e-12 })
        }
    }

    func testLogTicks() {
        XCTAssertEqual(Ticks.log(min: 1e-4, max: 1, maxCount: 6), [1e-4, 1e-3, 1e-2, 1e-1, 1])
        XCTAssertEqual(Ticks.labels([1e-4, 1e-3, 1e-2, 1e-1, 1, 10], log: true), ["1e-4", "1e-3", "0.01", "0.1", "1", "10"])
        XCTAssertEqual(Ticks.log(min: 1, max: 30, maxCount: 6), [1, 2, 5, 10, 20])
        XCTAssertEqual(Ticks.log(min: 1e-12, max: 1, maxCount: 6).count, 5)
    }

    func testCompactFormatting() {
        XCTAssertEqual(NumberFormat.compact(0.12), "0.12")
        XCTAssertEqual(NumberFormat.compact(0.0015), "1.5e-3")
        XCTAssertEqual(NumberFormat.compact(1.5), "1.5")
        XCTAssertEqual(NumberFormat.compact(1500), "1500")
        XCTAssertEqual(NumberFormat.compact(2.5e6), "2.5e6")
        XCTAssertEqual(NumberFormat.compact(-0.333333), "-0.333")
        XCTAssertEqual(NumberFormat.compact(0), "0")
        XCTAssertEqual(NumberFormat.compact(.nan), "NaN")
        XCTAssertEqual(NumberFormat.compact(9.9996), "10")
        XCTAssertEqual(NumberFormat.scientific(9.99e-5, significantDigits: 2), "1e-4")
        XCTAssertEqual(NumberFormat.fixed(-0.0001, decimals: 2), "0.00")
    }

    func testThinning() {
        XCTAssertEqual(Ticks.thinned(count: 5, spacing: 40, extent: 20), [0, 1, 2, 3, 4])
        XCTAssertEqual(Ticks.thinned(count: 30, spacing: 6, extent: 12, gap: 0), Array(stride(from: 0, to: 30, by: 2)))
        XCTAssertEqual(Ticks.thinned(count: 30, spacing: 3, extent: 12, gap: 0), [0, 5, 10, 15, 20, 25])
        XCTAssertEqual(Ticks.thinned(count: 100, spacing: 1, extent: 30, gap: 0), [0, 50])
    }
}
