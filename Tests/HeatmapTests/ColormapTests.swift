import XCTest
import Heatmap

final class ColormapTests: XCTestCase {
    func testPublishedEndpoints() {
        XCTAssertEqual(Colormap.viridis.first, RGBA(hex: 0x440154))
        XCTAssertEqual(Colormap.viridis.last, RGBA(hex: 0xFDE725))
        XCTAssertEqual(Colormap.magma.first, RGBA(hex: 0x000004))
        XCTAssertEqual(Colormap.magma.last, RGBA(hex: 0xFCFDBF))
        XCTAssertEqual(Colormap.blueWhiteRed.first, RGBA(hex: 0x053061))
        XCTAssertEqual(Colormap.blueWhiteRed.last, RGBA(hex: 0x67001F))
    }

    func testInterpolatedEntriesStayCloseToPublishedTable() {
        // Non-anchor entries of matplotlib's table (index: r, g, b in 0...1).
        let viridis: [(Int, Double, Double, Double)] = [
            (100, 0.166617, 0.463708, 0.558119), (203, 0.468053, 0.818921, 0.323998),
            (27, 0.281887, 0.150881, 0.465405)]
        let magma: [(Int, Double, Double, Double)] = [
            (93, 0.494258, 0.141462, 0.507988), (179, 0.967671, 0.439703, 0.359810)]
        for (map, rows) in [(Colormap.viridis, viridis), (Colormap.magma, magma)] {
            for (i, r, g, b) in rows {
                let c = map.colors[i]
                for (got, want) in [(c.r, r), (c.g, g), (c.b, b)] {
                    XCTAssertLessThanOrEqual(abs(Double(got) - want * 255), 1.5, "\(map.name)[\(i)]")
                }
            }
        }
    }

    func testLuminanceIncreasesMonotonically() {
        // Rounded to 8 bits even the published table is not strictly monotone entry to entry
        // (viridis 94 -> 95: red 45 -> 44 while green stays 113), so adjacent entries may dip by
        // at most one 8-bit step of red (~3e-4 in luminance); over 4 entries it must rise.
        for map in [Colormap.viridis, Colormap.magma] {
            let lum = map.colors.map(\.luminance)
            for i in 1..<256 {
                XCTAssertGreaterThan(lum[i], lum[i - 1] - 3e-4, "\(map.name) luminance drops at \(i)")
            }
            for i in 4..<256 {
                XCTAssertGreaterThan(lum[i], lum[i - 4], "\(map.name) luminance not rising at \(i)")
            }
            XCTAssertLessThan(lum[0], 0.02)
            XCTAssertGreaterThan(lum[255], 0.75)
        }
    }

    func testDivergingMapIsLightInTheMiddleAndBalanced() {
        let m = Colormap.blueWhiteRed
        let mid = m.colors[127].luminance
        XCTAssertGreaterThan(mid, 0.85)
        // Lightness falls away from the centre on both sides, symmetrically enough.
        for k in [32, 64, 96] {
            XCTAssertLessThan(m.colors[127 - k].luminance, mid)
            XCTAssertLessThan(m.colors[128 + k].luminance, mid)
        }
        XCTAssertGreaterThan(m.colors[10].b, m.colors[10].r)  // blue end
        XCTAssertGreaterThan(m.colors[245].r, m.colors[245].b)  // red end
    }

    func testFractionToIndex() {
        XCTAssertEqual(Colormap.index(for: 0), 0)
        XCTAssertEqual(Colormap.index(for: 1), 255)
        XCTAssertEqual(Colormap.index(for: -3), 0)
        XCTAssertEqual(Colormap.index(for: 7), 255)
        XCTAssertEqual(Colormap.index(for: 0.5), 128)
        XCTAssertEqual(Colormap.index(for: 1.0 / 256 - 1e-12), 0)
        XCTAssertEqual(Colormap.index(for: 1.0 / 256), 1)
    }

    func testPaletteIsDistinct() {
        XCTAssertEqual(Set(Palette.categorical).count, 8)
        XCTAssertEqual(Palette.color(8), Palette.color(0))
    }
}
