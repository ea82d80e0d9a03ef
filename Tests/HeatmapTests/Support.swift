import Foundation
import XCTest
import Heatmap

/// A fresh empty directory under the system temp folder.
func makeTempDir(_ tag: String) throws -> String {
    let path = NSTemporaryDirectory() + "heatmap-\(tag)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A smooth 30x9 test matrix in 0...1 (30 rows x 9 columns).
func sampleMatrix(rows: Int = 30, cols: Int = 9) -> [Float] {
    var v = [Float]()
    for r in 0..<rows {
        for c in 0..<cols {
            let x = Double(c) / Double(max(1, cols - 1)), y = Double(r) / Double(max(1, rows - 1))
            v.append(Float(0.5 + 0.45 * sin(3 * x + 2 * y) * cos(2 * y)))
        }
    }
    return v
}

/// Asserts that no two text boxes overlap and every box lies inside the canvas.
func assertCleanText(_ layout: FigureLayout, _ canvas: Canvas, file: StaticString = #filePath, line: UInt = #line) {
    for (i, a) in layout.textBoxes.enumerated() {
        XCTAssertEqual(a.intersection(canvas.bounds), a, "text box \(a) leaves the canvas", file: file, line: line)
        for b in layout.textBoxes[(i + 1)...] where a.intersects(b) {
            XCTFail("text boxes overlap: \(a) and \(b)", file: file, line: line)
        }
        for p in layout.panels where a.intersects(p.plot.insetBy(-1)) {
            XCTFail("text box \(a) overlaps plot \(p.plot)", file: file, line: line)
        }
        if let bar = layout.colorBar?.bar, a.intersects(bar.insetBy(-1)) {
            XCTFail("text box \(a) overlaps colour bar \(bar)", file: file, line: line)
        }
        if let plot = layout.plot, a.intersects(plot), !(layout.legend.map { $0.intersection(a) == a } ?? false) {
            XCTFail("text box \(a) overlaps chart plot \(plot)", file: file, line: line)
        }
    }
}
