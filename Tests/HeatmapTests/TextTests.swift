import XCTest
import Heatmap

final class TextTests: XCTestCase {
    /// Bounding box of every pixel that differs from white.
    func inkBox(_ c: Canvas) -> Rect? {
        var x0 = Int.max, y0 = Int.max, x1 = Int.min, y1 = Int.min
        for y in 0..<c.height { for x in 0..<c.width where c[x, y] != .white {
            x0 = min(x0, x); y0 = min(y0, y); x1 = max(x1, x); y1 = max(y1, y)
        } }
        return x0 == Int.max ? nil : Rect(x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1)
    }

    func testMeasuredWidthMatchesInkedWidth() {
        for (text, style) in [("HM", TextStyle.body), ("Attention 0.5", .body), ("W", .title),
                              ("MAX", TextStyle(bold: true)), ("H_H", TextStyle(scale: 3))] {
            var c = Canvas(width: 200, height: 60)
            let box = c.drawText(text, x: 10, y: 5, style: style)
            let ink = inkBox(c)!
            let size = BitmapFont.measure(text, style: style)
            XCTAssertEqual(box, Rect(x: 10, y: 5, width: size.width, height: size.height))
            XCTAssertEqual(ink.x, box.x, text)
            XCTAssertEqual(ink.maxX, box.maxX, "inked width of '\(text)' should equal the measured width")
            XCTAssertTrue(box.intersection(ink) == ink, "ink of '\(text)' outside its box")
            XCTAssertEqual(ink.y, box.y + BitmapFont.capTop * style.scale, "cap line of '\(text)'")
        }
        // Descenders reach the bottom of the line box.
        var c = Canvas(width: 60, height: 30)
        let box = c.drawText("gy", x: 3, y: 3)
        XCTAssertEqual(inkBox(c)!.maxY, box.maxY)
    }

    func testRotatedTextSwapsTheBox() {
        var c = Canvas(width: 60, height: 120)
        let box = c.drawText("Layer 12", x: 30, y: 60, align: .center, valign: .middle, rotated: true)
        let size = BitmapFont.measure("Layer 12")
        XCTAssertEqual(box.width, size.height)
        XCTAssertEqual(box.height, size.width)
        let ink = inkBox(c)!
        XCTAssertTrue(box.intersection(ink) == ink)
        XCTAssertEqual(ink.height, size.width)  // 'L' and '2' touch both ends
        // Reads bottom to top: the first glyph 'L' is at the bottom, its stem at the left (top of text).
        XCTAssertNotEqual(c[box.x + BitmapFont.capTop, box.maxY - 1], .white)
    }

    func testEveryPrintableGlyphHasInkExceptSpace() {
        for v in 33...126 {
            var c = Canvas(width: 10, height: 16)
            c.drawText(String(UnicodeScalar(UInt8(v))), x: 1, y: 1)
            XCTAssertNotNil(inkBox(c), "glyph \(v) is empty")
        }
        var c = Canvas(width: 10, height: 16)
        c.drawText(" ", x: 1, y: 1)
        XCTAssertNil(inkBox(c))
    }

    func testNonASCIIFallsBackToQuestionMark() {
        var a = Canvas(width: 20, height: 16), b = Canvas(width: 20, height: 16)
        a.drawText("é", x: 1, y: 1)
        b.drawText("?", x: 1, y: 1)
        XCTAssertEqual(a, b)
    }

    func testTruncate() {
        XCTAssertEqual(BitmapFont.truncate("abcdefghij", maxChars: 6), "abcd..")
        XCTAssertEqual(BitmapFont.truncate("abc", maxChars: 6), "abc")
    }
}

final class TokenMarkerTests: XCTestCase {
    func testBPEMarkersDrawAsUnderscore() {
        var a = Canvas(width: 30, height: 16), b = Canvas(width: 30, height: 16)
        a.drawText("\u{120}he", x: 1, y: 1)
        b.drawText("_he", x: 1, y: 1)
        XCTAssertEqual(a, b)
        var c = Canvas(width: 30, height: 16)
        c.drawText("\u{2581}he", x: 1, y: 1)
        XCTAssertEqual(c, b)
    }
}
