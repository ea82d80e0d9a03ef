import Foundation
import XCTest
import Heatmap

final class FigureTests: XCTestCase {
    func testHeatmapPNGHasExactCellAndColourBarColours() throws {
        var values = sampleMatrix()
        values[3 * 9 + 4] = 0.123
        let scale = ColorScale(colormap: .viridis, vmin: 0, vmax: 1)
        let panel = HeatmapPanel(values: values, rows: 30, cols: 9, title: "probe", xLabel: "head",
                                 yLabel: "layer", scale: scale)
        let fig = Figure.heatmap(panel, colorBar: ColorBar(label: "attention"))
        let (canvas, layout) = fig.renderWithLayout()
        let dir = try makeTempDir("fig")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try fig.write(to: dir + "/h.png")
        let png = try PNG.read(dir + "/h.png")
        XCTAssertEqual(png.width, 900)
        XCTAssertEqual(png.height, 600)
        XCTAssertEqual(png, canvas)

        let cell = layout.panels[0].cellRect(row: 3, col: 4)
        XCTAssertGreaterThan(cell.width, 4); XCTAssertGreaterThan(cell.height, 4)
        let expected = scale.color(Float(0.123))
        XCTAssertEqual(expected, Colormap.viridis.colors[31])  // floor(0.123 * 256)
        XCTAssertEqual(png[cell.midX, cell.midY], expected)
        XCTAssertEqual(png[cell.x, cell.y], expected)
        XCTAssertEqual(png[cell.maxX - 1, cell.maxY - 1], expected)
        // Cells tile the plot exactly: the neighbour starts right after.
        let right = layout.panels[0].cellRect(row: 3, col: 5)
        XCTAssertEqual(right.x, cell.maxX)
        XCTAssertEqual(png[right.x, right.midY], scale.color(values[3 * 9 + 5]))

        let bar = try XCTUnwrap(layout.colorBar).bar
        XCTAssertEqual(png[bar.midX, bar.maxY - 1], Colormap.viridis.first)
        XCTAssertEqual(png[bar.midX, bar.y], Colormap.viridis.last)
        XCTAssertEqual(bar.y, layout.panels[0].plot.y)
        XCTAssertEqual(bar.maxY, layout.panels[0].plot.maxY)
        XCTAssertNil(layout.colorBar?.nanSwatch)
        assertCleanText(layout, canvas)
    }

    func testShortColourBarHitsBothEndsAndTheMiddle() throws {
        // On a short bar (< 128 rows) an off-by-one in the row -> fraction mapping changes the
        // end pixels, so this catches what a tall bar would hide.
        let panel = HeatmapPanel(values: [0, 0.5, 1, 0.25], rows: 2, cols: 2,
                                 scale: ColorScale(colormap: .magma, vmin: 0, vmax: 1))
        let (canvas, layout) = Figure.heatmap(panel, width: 240, height: 150).renderWithLayout()
        let bar = try XCTUnwrap(layout.colorBar).bar
        XCTAssertLessThan(bar.height, 128)
        XCTAssertEqual(canvas[bar.x, bar.maxY - 1], Colormap.magma.first)
        XCTAssertEqual(canvas[bar.maxX - 1, bar.y], Colormap.magma.last)
        // The row half-way up shows (within one table step) the colour of 0.5.
        let mid = canvas[bar.midX, bar.y + (bar.height - 1) / 2]
        let i = Colormap.magma.colors.firstIndex(of: mid)
        XCTAssertNotNil(i)
        XCTAssertLessThanOrEqual(abs((i ?? 0) - 128), 2)
        // Cells at vmin and vmax get exactly the same colours as the bar's ends.
        let l = layout.panels[0]
        XCTAssertEqual(canvas[l.cellRect(row: 0, col: 0).midX, l.cellRect(row: 0, col: 0).midY], Colormap.magma.first)
        XCTAssertEqual(canvas[l.cellRect(row: 1, col: 0).midX, l.cellRect(row: 1, col: 0).midY], Colormap.magma.last)
        assertCleanText(layout, canvas)
    }

    func testNaNCellsUseTheNaNColourAndTheBarListsNaN() throws {
        var values = sampleMatrix(rows: 6, cols: 5)
        values[7] = .nan
        let panel = HeatmapPanel(values: values, rows: 6, cols: 5, scale: ColorScale(colormap: .magma, vmin: 0, vmax: 1))
        let (canvas, layout) = Figure.heatmap(panel, colorBar: ColorBar(label: "x")).renderWithLayout()
        let cell = layout.panels[0].cellRect(row: 1, col: 2)
        XCTAssertEqual(canvas[cell.midX, cell.midY], ColorScale.defaultNaNColor)
        let swatch = try XCTUnwrap(layout.colorBar?.nanSwatch)
        XCTAssertEqual(canvas[swatch.midX, swatch.midY], ColorScale.defaultNaNColor)
        let bar = layout.colorBar!.bar
        XCTAssertEqual(canvas[bar.midX, bar.maxY - 1], Colormap.magma.first)
        XCTAssertEqual(canvas[bar.midX, bar.y], Colormap.magma.last)
        XCTAssertLessThan(bar.maxY, swatch.y)
        assertCleanText(layout, canvas)
    }

    func testLogScaleHeatmapPixels() {
        let values: [Float] = [0, 1e-3, 1e-2, 1, -1, 0.1]
        let scale = ColorScale(colormap: .viridis, vmin: 1e-3, vmax: 1, mapping: .log)
        let (canvas, layout) = Figure.heatmap(HeatmapPanel(values: values, rows: 2, cols: 3, scale: scale))
            .renderWithLayout()
        let l = layout.panels[0]
        func px(_ r: Int, _ c: Int) -> RGBA { let k = l.cellRect(row: r, col: c); return canvas[k.midX, k.midY] }
        XCTAssertEqual(px(0, 0), Colormap.viridis.first)  // 0 clamps to the floor
        XCTAssertEqual(px(1, 1), Colormap.viridis.first)  // negative too
        XCTAssertEqual(px(1, 0), Colormap.viridis.last)
        XCTAssertEqual(px(0, 2), Colormap.viridis.colors[85])  // 1e-2: 1/3 of the way
        assertCleanText(layout, canvas)
    }

    func testGridSharesOneScaleAndLaysOutCleanly() {
        var panels: [HeatmapPanel] = []
        for i in 0..<6 {
            let v = sampleMatrix(rows: 12, cols: 8).map { $0 * Float(i + 1) }
            panels.append(HeatmapPanel(values: v, rows: 12, cols: 8, title: "panel \(i)", xLabel: "head", yLabel: "layer"))
        }
        let grid = PanelGrid(panels: panels, columns: 3, title: "grid", colorBar: ColorBar(label: "value"))
        let (canvas, layout) = Figure.grid(grid).renderWithLayout()
        XCTAssertEqual(layout.panels.count, 6)
        let sizes = Set(layout.panels.map { "\($0.plot.width)x\($0.plot.height)" })
        XCTAssertEqual(sizes.count, 1, "all grid plots should be the same size")
        for a in 0..<6 { for b in (a + 1)..<6 { XCTAssertFalse(layout.panels[a].plot.intersects(layout.panels[b].plot)) } }
        let scale = grid.resolvedScale
        XCTAssertEqual(scale.vmax, Double(panels.flatMap { $0.values }.max()!), accuracy: 1e-6)
        let k = layout.panels[5].cellRect(row: 2, col: 3)
        XCTAssertEqual(canvas[k.midX, k.midY], scale.color(panels[5][2, 3]))
        let bar = layout.colorBar!.bar
        XCTAssertEqual(bar.y, layout.panels[0].plot.y)
        XCTAssertEqual(bar.maxY, layout.panels[5].plot.maxY)
        assertCleanText(layout, canvas)
    }

    func testTokenLabelsAndAnnotationsStayReadable() {
        let tokens = ["The", "nurse", "said", "that", "she", "was", "tired", "."]
        let v = sampleMatrix(rows: 8, cols: 8)
        let panel = HeatmapPanel(values: v, rows: 8, cols: 8, xLabel: "key", yLabel: "query",
                                 xTicks: .categories(tokens), yTicks: .categories(tokens),
                                 annotations: .values(decimals: 2))
        for size in [(900, 600), (420, 320), (300, 260)] {
            let (canvas, layout) = Figure.heatmap(panel, title: "tokens", width: size.0, height: size.1)
                .renderWithLayout()
            assertCleanText(layout, canvas)
        }
    }

    func testLineChartLayoutLegendAndGaps() {
        let xs = (0..<40).map(Double.init)
        let a = Series(name: "ratio", x: xs, y: xs.map { 1 + sin($0 / 5) })
        var yb = xs.map { 0.5 + $0 / 40 }
        yb[10] = .nan
        let b = Series(name: "baseline", x: xs, y: yb)
        for logY in [false, true] {
            let chart = LineChart(series: [a, b], title: "chart", xLabel: "layer", yLabel: "value", logY: logY)
            let (canvas, layout) = Figure.lineChart(chart).renderWithLayout()
            let plot = try! XCTUnwrap(layout.plot)
            let legend = try! XCTUnwrap(layout.legend)
            XCTAssertTrue(plot.intersection(legend) == legend || legend.x >= plot.maxX)
            assertCleanText(layout, canvas)
            // The legend's swatch for series 0 is drawn in its palette colour.
            XCTAssertEqual(canvas[legend.x + 19, legend.y + 13], Palette.color(0))
        }
    }

    func testSingleHeatmapRendersFast() throws {
        let panel = HeatmapPanel(values: sampleMatrix(), rows: 30, cols: 9, title: "speed", xLabel: "head", yLabel: "layer")
        let fig = Figure.heatmap(panel, colorBar: ColorBar(label: "attention"))
        _ = fig.render()
        let start = Date()
        let bytes = try PNG.encode(fig.render())
        let elapsed = Date().timeIntervalSince(start)
        print("30x9 heatmap render+encode: \(Int(elapsed * 1000)) ms, \(bytes.count) bytes")
        // Generous bound so a busy machine does not fail it; typical runs are far below.
        XCTAssertLessThan(elapsed, 1.0)
    }
}
