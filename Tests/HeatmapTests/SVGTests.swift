import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
import Heatmap

/// The SVG back end against the PNG one, for the same drawing: the XML parses, cells, text and
/// lines are there as vectors, and every planted colour is the PNG's pixel at the same place.
final class SVGTests: XCTestCase {
    /// A 3x4 matrix whose equal colours merge into 4 rectangles: rows 0-1 are "a a a b", row 2 is
    /// "c d d d".
    static let planted: [Float] = [0.1, 0.1, 0.1, 0.9,
                                   0.1, 0.1, 0.1, 0.9,
                                   0.5, 0.3, 0.3, 0.3]

    func plantedFigure(_ values: [Float] = planted, rows: Int = 3, cols: Int = 4) -> Figure {
        let panel = HeatmapPanel(values: values, rows: rows, cols: cols, title: "planted <cells> & more",
                                 xLabel: "head", yLabel: "layer", scale: ColorScale(colormap: .viridis, vmin: 0, vmax: 1))
        return Figure.heatmap(panel, colorBar: ColorBar(label: "attention"), width: 500, height: 360)
    }

    func testPlantedHeatmapIsWellFormedWithMergedCellsAndSearchableText() throws {
        let (drawing, layout) = plantedFigure().draw()
        let svg = try SVGDocument(drawing.svg())
        XCTAssertEqual(svg.root.name, "svg")
        XCTAssertEqual(svg.root.attributes["width"], "500")
        XCTAssertEqual(svg.root.attributes["height"], "360")
        let cells = svg.elements.filter { $0.name == "rect" && $0.group == "cells" }
        XCTAssertEqual(cells.count, 4, "a a a b / a a a b / c d d d merges into 4 rectangles")
        // Every distinct value gets its own rectangles when nothing is equal.
        let distinct = (0..<12).map { Float($0) / 11 }
        let all = try SVGDocument(plantedFigure(distinct).draw().drawing.svg())
        XCTAssertEqual(all.elements.filter { $0.name == "rect" && $0.group == "cells" }.count, 12)

        // One <text> per label box the layout recorded, at that box, with the same width.
        let texts = svg.elements.filter { $0.name == "text" }
        XCTAssertEqual(texts.count, layout.textBoxes.count)
        let unrotated = texts.filter { $0.attributes["transform"] == nil }
        XCTAssertFalse(unrotated.isEmpty)
        for t in unrotated {
            let x = Int(t.attributes["x"]!)!, y = Int(t.attributes["y"]!)!, length = Int(t.attributes["textLength"]!)!
            let scale = Int(t.attributes["font-size"] ?? "11")! / 11   // 11 px at text scale 1
            // The baseline sits under the bitmap font's 2 blank rows and 9 cap rows.
            let baseline = (BitmapFont.capTop + 9) * scale
            XCTAssertTrue(layout.textBoxes.contains { $0.x == x && $0.y + baseline == y && $0.width == length },
                          "text '\(t.text)' at (\(x), \(y)) matches no label box")
        }
        let strings = Set(texts.map(\.text))
        XCTAssertTrue(strings.isSuperset(of: ["planted <cells> & more", "head", "layer", "attention", "0", "1", "2", "3"]), "\(strings)")
        // The y label and the colour bar's label read upwards.
        XCTAssertEqual(texts.filter { $0.attributes["transform"]?.hasSuffix("rotate(-90)") == true }.map(\.text).sorted(),
                       ["attention", "layer"])
    }

    func testPlantedCellAndColourBarColoursMatchThePNGPixels() throws {
        var values = Self.planted
        values[5] = .nan   // NaN cells are the scale's NaN grey in both files
        let fig = plantedFigure(values)
        let (drawing, layout) = fig.draw()
        let png = drawing.rasterize()
        XCTAssertEqual(png, fig.render())
        let svg = try SVGDocument(drawing.svg())
        let panel = try XCTUnwrap(layout.panels.first)
        let scale = ColorScale(colormap: .viridis, vmin: 0, vmax: 1)
        for r in 0..<3 {
            for c in 0..<4 {
                let cell = panel.cellRect(row: r, col: c)
                let (x, y) = (cell.midX, cell.midY)
                let fill = try XCTUnwrap(svg.fill(atX: x, y: y, group: "cells"), "no SVG cell covers (\(x), \(y))")
                XCTAssertEqual(fill, png[x, y], "cell (\(r), \(c))")
                XCTAssertEqual(fill, scale.color(values[r * 4 + c]), "cell (\(r), \(c))")
            }
        }
        let bar = try XCTUnwrap(layout.colorBar?.bar)
        for y in bar.y..<bar.maxY {
            XCTAssertEqual(svg.fill(atX: bar.midX, y: y, group: "colorbar"), png[bar.midX, y], "colour bar row \(y)")
        }
        XCTAssertLessThanOrEqual(svg.elements.filter { $0.group == "colorbar" }.count, 256)
    }

    /// Deterministic pseudo-random values in 0...1 (few equal neighbours, so little merges).
    static func noise(_ n: Int) -> [Float] {
        var state: UInt64 = 0x9E3779B97F4A7C15
        return (0..<n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24)
        }
    }

    /// The PNG-encoded cells of the SVG's one embedded image, and the image element.
    func embeddedCells(_ svg: SVGDocument) throws -> (Canvas, SVGDocument.Element) {
        let images = svg.elements.filter { $0.name == "image" }
        XCTAssertEqual(images.count, 1, "one image for the cells; the colour bar stays rectangles")
        let image = try XCTUnwrap(images.first)
        XCTAssertEqual(image.attributes["class"], "cells")
        let href = try XCTUnwrap(image.attributes["xlink:href"])
        let prefix = "data:image/png;base64,"
        XCTAssertTrue(href.hasPrefix(prefix))
        let bytes = try XCTUnwrap(Data(base64Encoded: String(href.dropFirst(prefix.count))))
        let path = try makeTempDir("svg-image") + "/cells.png"
        try bytes.write(to: URL(fileURLWithPath: path))
        return (try PNG.read(path), image)
    }

    func testLargeMatrixIsOneEmbeddedImageOfItsCells() throws {
        let (rows, cols) = (40, 30)
        let (drawing, layout) = plantedFigure(Self.noise(rows * cols), rows: rows, cols: cols).draw()
        let png = drawing.rasterize()
        // The cap (500) is above the colour bar's at most 256 rectangles, below the cells' ~1200.
        let svg = try SVGDocument(drawing.svg(maxCellRects: 500))
        XCTAssertTrue(svg.elements.filter { $0.group == "cells" }.isEmpty)
        XCTAssertFalse(svg.elements.filter { $0.group == "colorbar" }.isEmpty)
        let (cells, image) = try embeddedCells(svg)
        let panel = try XCTUnwrap(layout.panels.first)
        XCTAssertEqual([image.attributes["x"], image.attributes["y"], image.attributes["width"], image.attributes["height"]],
                       ["\(panel.plot.x)", "\(panel.plot.y)", "\(panel.plot.width)", "\(panel.plot.height)"])
        XCTAssertEqual(cells.width, cols, "one image pixel per cell")
        XCTAssertEqual(cells.height, rows)
        for r in 0..<rows {
            for c in 0..<cols {
                let rect = panel.cellRect(row: r, col: c)
                XCTAssertEqual(cells[c, r], png[rect.midX, rect.midY], "cell (\(r), \(c))")
            }
        }
        // The labels are still text.
        XCTAssertTrue(svg.elements.contains { $0.name == "text" && $0.text == "layer" })
        // Under the default cap the same cells are rectangles (a few equal neighbours merge).
        XCTAssertGreaterThan(try SVGDocument(drawing.svg()).elements.filter { $0.group == "cells" }.count, 1000)
    }

    func testMoreCellsThanPixelsEmbedsThePNGsOwnPixels() throws {
        let (rows, cols) = (400, 300)
        let (drawing, layout) = plantedFigure(Self.noise(rows * cols), rows: rows, cols: cols).draw()
        let png = drawing.rasterize()
        let (cells, _) = try embeddedCells(try SVGDocument(drawing.svg()))
        let plot = try XCTUnwrap(layout.panels.first).plot
        XCTAssertLessThan(plot.height, rows)
        XCTAssertEqual(cells.width, plot.width)
        XCTAssertEqual(cells.height, plot.height)
        for y in 0..<plot.height {
            for x in 0..<plot.width { XCTAssertEqual(cells[x, y], png[plot.x + x, plot.y + y]) }
        }
    }

    func testLineChartIsPolylinesCirclesAndClippedToThePlot() throws {
        let chart = LineChart(series: [Series(name: "rising", y: [1, 2, .nan, 4, 5]),
                                       Series(name: "dots", x: [0, 2, 4], y: [3, 3, 3], markers: true)],
                              title: "lines", xLabel: "x", yLabel: "y")
        let (drawing, layout) = Figure.lineChart(chart, width: 600, height: 400).draw()
        let svg = try SVGDocument(drawing.svg())
        let lines = svg.elements.filter { $0.name == "polyline" }
        // rising: two runs (split at NaN); dots: one run; the legend: one sample line per series.
        XCTAssertEqual(lines.count, 5)
        let plot = try XCTUnwrap(layout.plot)
        let clip = try XCTUnwrap(svg.elements.first { $0.name == "clipPath" })
        let clipRect = try XCTUnwrap(svg.elements.first { $0.name == "rect" && $0.parent == clip.attributes["id"] })
        XCTAssertEqual(clipRect.attributes["x"], "\(plot.x)")
        XCTAssertEqual(clipRect.attributes["width"], "\(plot.width)")
        XCTAssertEqual(lines.filter { $0.attributes["clip-path"] == "url(#\(clip.attributes["id"]!))" }.count, 3)
        XCTAssertEqual(svg.elements.filter { $0.name == "circle" }.count, 3 + 1, "3 markers and the legend's one")
        // Each series' first point sits where the raster line starts.
        let first = try XCTUnwrap(lines.first?.attributes["points"]?.split(separator: " ").first)
        let xy = first.split(separator: ",").compactMap { Double($0) }
        XCTAssertEqual(xy[0], Double(plot.x) + 0.5, accuracy: 1e-9)
        XCTAssertEqual(xy[1], Double(plot.maxY - 1) - 0.05 / 1.1 * Double(plot.height - 1) + 0.5, accuracy: 0.01)
        XCTAssertTrue(svg.elements.contains { $0.name == "text" && $0.text == "rising" })
    }

    func testTextThatXMLCannotHoldIsReplacedAndTheFileIsDeterministic() throws {
        let panel = HeatmapPanel(values: [0, 1], rows: 1, cols: 2, xTicks: .categories(["a\u{1}b", "Ġtoken"]),
                                 scale: ColorScale(colormap: .viridis, vmin: 0, vmax: 1))
        let fig = Figure.heatmap(panel, width: 400, height: 300)
        let text = fig.draw().drawing.svg()
        XCTAssertEqual(text, fig.draw().drawing.svg())
        let svg = try SVGDocument(text)
        let labels = Set(svg.elements.filter { $0.name == "text" }.map(\.text))
        XCTAssertTrue(labels.isSuperset(of: ["a?b", "Ġtoken"]), "\(labels)")
    }

    func testWriteChoosesTheFormatAndNamesItInErrors() throws {
        let dir = try makeTempDir("svg-write")
        let fig = plantedFigure()
        try fig.write(to: dir + "/f.svg", format: .svg)
        try fig.write(to: dir + "/f.png")
        XCTAssertEqual(try PNG.read(dir + "/f.png"), fig.render())
        let svg = try SVGDocument(String(contentsOfFile: dir + "/f.svg", encoding: .utf8))
        XCTAssertEqual(svg.root.attributes["viewBox"], "0 0 500 360")
        XCTAssertThrowsError(try fig.write(to: dir + "/missing/f.svg", format: .svg)) { e in
            XCTAssertTrue("\(e)".hasPrefix("cannot write SVG '\(dir)/missing/f.svg'"), "\(e)")
        }
        XCTAssertEqual(ImageFormat(pathExtension: "a/b.SVG"), .svg)
        XCTAssertEqual(ImageFormat(pathExtension: "x.png"), .png)
        XCTAssertNil(ImageFormat(pathExtension: "dir.svg/plain"))
        XCTAssertNil(ImageFormat(pathExtension: ".svg"))
    }
}

/// A parsed SVG: every element in document order with its attributes, text, enclosing group's
/// class and enclosing element's id.
struct SVGDocument {
    struct Element {
        let name: String
        let attributes: [String: String]
        var text = ""
        /// The class of the nearest enclosing <g> that has one.
        let group: String?
        /// The id of the parent element, if it has one (clip rectangles name their clipPath).
        let parent: String?
    }

    private(set) var elements: [Element] = []
    var root: Element { elements[0] }

    init(_ text: String) throws {
        let reader = Reader()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = reader
        guard parser.parse() else {
            throw NSError(domain: "SVG", code: 1, userInfo: [NSLocalizedDescriptionKey:
                "not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "?") at line \(parser.lineNumber)"])
        }
        elements = reader.elements
    }

    /// The fill of the last <rect> in groups of class `group` that covers pixel (x, y).
    func fill(atX x: Int, y: Int, group: String) -> RGBA? {
        let hit = elements.last { e in
            guard e.name == "rect", e.group == group, let rx = Int(e.attributes["x"] ?? ""), let ry = Int(e.attributes["y"] ?? ""),
                  let w = Int(e.attributes["width"] ?? ""), let h = Int(e.attributes["height"] ?? "") else { return false }
            return Rect(x: rx, y: ry, width: w, height: h).contains(x: x, y: y)
        }
        guard let hex = hit?.attributes["fill"], hex.hasPrefix("#"), let v = UInt32(hex.dropFirst(), radix: 16) else { return nil }
        return RGBA(hex: v)
    }

    private final class Reader: NSObject, XMLParserDelegate {
        var elements: [Element] = []
        var open: [Int] = []

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            let group = open.reversed().lazy.map { self.elements[$0] }.first { $0.name == "g" && $0.attributes["class"] != nil }
            elements.append(Element(name: name, attributes: attributes, group: group?.attributes["class"],
                                    parent: open.last.flatMap { self.elements[$0].attributes["id"] }))
            open.append(elements.count - 1)
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if let i = open.last { elements[i].text += string }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            open.removeLast()
        }
    }
}
