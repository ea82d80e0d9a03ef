import Foundation
import XCTest
import Heatmap

/// Renders the example figures committed under outputs/examples/heatmap-selftest/ (same bytes
/// on every run) and checks each one reads back.
final class SelfTestExamples: XCTestCase {
    static var outputDir: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.path + "/outputs/examples/heatmap-selftest"
    }

    func write(_ fig: Figure, _ name: String) throws {
        try FileManager.default.createDirectory(atPath: Self.outputDir, withIntermediateDirectories: true)
        let (canvas, layout) = fig.renderWithLayout()
        assertCleanText(layout, canvas)
        let path = Self.outputDir + "/" + name
        try PNG.write(canvas, to: path)
        let back = try PNG.read(path)
        XCTAssertEqual(back.width, fig.width)
        XCTAssertEqual(back.height, fig.height)
    }

    /// Attention-like numbers: 30 layers x 9 heads with a few NaN (missing) heads.
    static func attention(band: Int, stage: Int, rows: Int = 30, cols: Int = 9) -> [Float] {
        var v = [Float]()
        for r in 0..<rows {
            for c in 0..<cols {
                let depth = Double(r) / Double(rows - 1)
                let head = Double(c) / Double(cols - 1)
                let base = 0.08 + 0.5 * depth * (1 + 0.6 * sin(6.3 * head + Double(band)))
                let bump = exp(-pow((depth - 0.3 - 0.2 * Double(band)) * 5, 2)) * 0.4 * Double(stage + 1)
                v.append(Float(min(1, max(0, base * 0.7 + bump * 0.5))))
            }
        }
        return v
    }

    func testHeatmapWithColorBar() throws {
        var v = Self.attention(band: 1, stage: 0)
        v[4 * 9 + 7] = .nan
        v[5 * 9 + 7] = .nan
        let panel = HeatmapPanel(values: v, rows: 30, cols: 9, xLabel: "attention head", yLabel: "layer",
                                 xTicks: .indices(), yTicks: .indices(),
                                 scale: ColorScale(colormap: .viridis, vmin: 0, vmax: 1))
        try write(Figure.heatmap(panel, colorBar: ColorBar(label: "mean attention to pronoun"),
                                 title: "Attention to the pronoun, by layer and head"), "heatmap.png")
    }

    func testAnnotatedTokenHeatmap() throws {
        let tokens = ["The", "doctor", "told", "the", "nurse", "that", "she", "was", "late", "."]
        var v = [Float]()
        for q in 0..<10 {
            var row = [Double]()
            for k in 0..<10 { row.append(k <= q ? exp(-Double(q - k) / 2) + (k == 4 && q >= 6 ? 1.5 : 0) : 0) }
            let s = row.reduce(0, +)
            v += row.map { Float($0 / s) }
        }
        let panel = HeatmapPanel(values: v, rows: 10, cols: 10, xLabel: "key token", yLabel: "query token",
                                 xTicks: .categories(tokens), yTicks: .categories(tokens),
                                 annotations: .values(decimals: 2),
                                 scale: ColorScale(colormap: .magma, vmin: 0, vmax: 1))
        try write(Figure.heatmap(panel, colorBar: ColorBar(label: "attention weight"),
                                 title: "Layer 14, head 3", width: 700, height: 620), "tokens-annotated.png")
    }

    func testPanelGrid2x3() throws {
        let bands = ["low band", "mid band", "high band"], stages = ["before", "after"]
        var panels: [HeatmapPanel] = []
        for s in 0..<2 {
            for b in 0..<3 {
                panels.append(HeatmapPanel(values: Self.attention(band: b, stage: s), rows: 30, cols: 9,
                                           title: "\(bands[b]), \(stages[s])", xLabel: "head", yLabel: "layer"))
            }
        }
        let grid = PanelGrid(panels: panels, columns: 3, title: "Attention by frequency band and stage",
                             scale: ColorScale(colormap: .viridis, vmin: 0, vmax: 1),
                             colorBar: ColorBar(label: "mean attention"))
        try write(Figure.grid(grid), "grid-2x3.png")
    }

    func testDivergingDifference() throws {
        let a = Self.attention(band: 2, stage: 1), b = Self.attention(band: 0, stage: 1)
        let d = zip(a, b).map { $0 - $1 }
        let panel = HeatmapPanel(values: d, rows: 30, cols: 9, xLabel: "head", yLabel: "layer",
                                 scale: .fitting(d, colormap: .blueWhiteRed, symmetric: true))
        try write(Figure.heatmap(panel, colorBar: ColorBar(label: "after - before"),
                                 title: "Change in attention", width: 600, height: 600), "difference.png")
    }

    func testLineChartWithLegend() throws {
        let layers = (0..<30).map(Double.init)
        func curve(_ k: Double, _ phase: Double) -> [Double] {
            layers.map { 0.02 + 0.3 * exp(-pow(($0 - 10 - k * 6) / 6, 2)) + 0.05 * sin($0 / 3 + phase) + 0.05 }
        }
        var gapped = curve(2, 2)
        gapped[12] = .nan; gapped[13] = .nan
        let chart = LineChart(series: [
            Series(name: "he/him", x: layers, y: curve(0, 0)),
            Series(name: "she/her", x: layers, y: curve(1, 1)),
            Series(name: "they/them (2 layers missing)", x: layers, y: gapped),
            Series(name: "uniform baseline", x: layers, y: layers.map { _ in 1.0 / 9 }, lineWidth: 1.5),
        ], title: "Attention to pronoun by layer", xLabel: "layer", yLabel: "mean attention")
        try write(Figure.lineChart(chart), "linechart.png")
    }

    func testLogLineChart() throws {
        let steps = (1...60).map { Double($0) * 50 }
        let chart = LineChart(series: [
            Series(name: "train loss", x: steps, y: steps.map { 4 * pow($0 / 50, -0.6) + 0.02 }),
            Series(name: "probe loss", x: steps, y: steps.map { 2 * pow($0 / 50, -0.35) }, markers: false),
        ], title: "Loss (log scale)", xLabel: "step", yLabel: "loss", logY: true)
        try write(Figure.lineChart(chart, width: 700, height: 450), "linechart-log.png")
    }
}
