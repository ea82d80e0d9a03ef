import Heatmap
import XCTest

/// The one Heatmap addition the plots need: a subtitle under the figure title.
final class PlotFigureTests: XCTestCase {
    func testSubtitleLinesSitBetweenTitleAndPanelsWithoutOverlap() throws {
        let panel = HeatmapPanel(values: [0, 0.25, 0.5, 1], rows: 2, cols: 2, title: "panel", xLabel: "x", yLabel: "y")
        var fig = Figure.heatmap(panel, title: "Title", width: 500, height: 400)
        let plain = fig.renderWithLayout().layout
        fig.subtitle = "first line of the subtitle\nsecond line"
        let (canvas, layout) = fig.renderWithLayout()
        let title = try XCTUnwrap(layout.title)
        let plot = try XCTUnwrap(layout.panels.first).plot
        // Both lines are drawn: two boxes below the title and above the panel.
        let lines = layout.textBoxes.filter { $0.y >= title.maxY && $0.maxY <= plot.y && $0.height == BitmapFont.lineHeight
            && ($0.width == BitmapFont.measure("first line of the subtitle").width || $0.width == BitmapFont.measure("second line").width) }
        XCTAssertEqual(lines.count, 2, "\(layout.textBoxes)")
        // The panel moved down to make room, and nothing overlaps.
        XCTAssertGreaterThan(plot.y, try XCTUnwrap(plain.panels.first).plot.y)
        for (i, a) in layout.textBoxes.enumerated() {
            XCTAssertEqual(a.intersection(canvas.bounds), a)
            for b in layout.textBoxes[(i + 1)...] { XCTAssertFalse(a.intersects(b), "\(a) overlaps \(b)") }
            XCTAssertFalse(a.intersects(plot), "\(a) overlaps the plot")
        }
        // The subtitle is inked: some dark pixels in its first line.
        let box = lines.min { $0.y < $1.y }!
        var dark = 0
        for y in box.y..<box.maxY { for x in box.x..<box.maxX where canvas[x, y].luminance < 0.5 { dark += 1 } }
        XCTAssertGreaterThan(dark, 30)
    }
}
