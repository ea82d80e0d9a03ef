// An embedded monospaced bitmap font: 6 px advance, 13 px line, readable at 1x; integer
// scaling for titles, a double-struck bold, and text rotated 90° for y-axis labels.

/// How a piece of text looks.
public struct TextStyle: Sendable, Hashable {
    public var scale: Int
    /// Double-struck, one pixel wider per glyph. Fine for short words; glyphs with narrow
    /// counters (m, w, M, W, #) fill in, so plain text is used for the figures' own labels.
    public var bold: Bool
    public var color: RGBA

    public init(scale: Int = 1, bold: Bool = false, color: RGBA = .ink) {
        self.scale = max(1, scale); self.bold = bold; self.color = color
    }

    public static let body = TextStyle()
    public static let title = TextStyle(scale: 2)
}

public enum HAlign: Sendable { case left, center, right }
public enum VAlign: Sendable { case top, middle, bottom }

/// The font's metrics and glyph lookup. All sizes are for scale 1; multiply by the scale.
public enum BitmapFont {
    /// Inked columns per glyph.
    public static let glyphWidth = 5
    /// Horizontal distance from one glyph to the next (glyph plus 1 px gap).
    public static let advance = 6
    /// Height of a line box: 2 blank rows, 9 rows of capitals, 2 rows of descender.
    public static let lineHeight = 13
    /// Blank rows above the cap line inside the line box.
    public static let capTop = 2

    /// Characters outside printable ASCII are drawn as "?", except the word-boundary markers
    /// of BPE/SentencePiece tokens ("Ġ" U+0120, "▁" U+2581), drawn as "_", and "Ċ" (U+010A,
    /// a newline token), drawn as "|".
    static func glyph(for scalar: Unicode.Scalar) -> UInt64 {
        var v = scalar.value
        switch v {
        case 0x120, 0x2581: v = 0x5F
        case 0x10A: v = 0x7C
        default: break
        }
        let index = (v >= 32 && v <= 126) ? Int(v) - 32 : Int(("?" as Unicode.Scalar).value) - 32
        return glyphs[index]
    }

    /// Width and height in pixels of `text` drawn unrotated with `style`. The width runs from the
    /// first glyph's left edge to the last glyph's right edge (no trailing gap), so a string whose
    /// first and last glyphs touch their cell edges has exactly this inked width.
    public static func measure(_ text: String, style: TextStyle = .body) -> (width: Int, height: Int) {
        let n = text.unicodeScalars.count
        let adv = advance + (style.bold ? 1 : 0)
        let width = n == 0 ? 0 : (n * adv - 1) * style.scale
        return (width, lineHeight * style.scale)
    }

    /// The widest of several strings.
    public static func maxWidth(_ texts: [String], style: TextStyle = .body) -> Int {
        texts.map { measure($0, style: style).width }.max() ?? 0
    }

    /// Shortens `text` to at most `maxChars` characters, ending in ".." when cut.
    public static func truncate(_ text: String, maxChars: Int) -> String {
        let scalars = Array(text.unicodeScalars)
        guard scalars.count > maxChars, maxChars >= 3 else { return text }
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars[0..<(maxChars - 2)])
        return String(s) + ".."
    }
}

extension BitmapFont {
    /// The box `text` occupies when aligned to (x, y): `align`/`valign` say which edge or centre
    /// of the box lands on the point; with `rotated` the box is the rotated one.
    public static func box(_ text: String, x: Int, y: Int, style: TextStyle = .body, align: HAlign = .left,
                           valign: VAlign = .top, rotated: Bool = false) -> Rect {
        let size = measure(text, style: style)
        let boxW = rotated ? size.height : size.width
        let boxH = rotated ? size.width : size.height
        let left: Int
        switch align {
        case .left: left = x
        case .center: left = x - boxW / 2
        case .right: left = x - boxW
        }
        let top: Int
        switch valign {
        case .top: top = y
        case .middle: top = y - boxH / 2
        case .bottom: top = y - boxH
        }
        return Rect(x: left, y: top, width: boxW, height: boxH)
    }
}

extension Canvas {
    /// Draws `text` so that its box (see `BitmapFont.measure`) is aligned to (x, y):
    /// `align`/`valign` say which edge or centre of the box lands on the point. With `rotated`
    /// the text reads bottom-to-top (90° counter-clockwise) and the alignment applies to the
    /// rotated box. Returns the box the text occupies.
    @discardableResult
    public mutating func drawText(_ text: String, x: Int, y: Int, style: TextStyle = .body,
                                  align: HAlign = .left, valign: VAlign = .top,
                                  rotated: Bool = false) -> Rect {
        let box = BitmapFont.box(text, x: x, y: y, style: style, align: align, valign: valign, rotated: rotated)
        drawGlyphs(text, box: box, style: style, rotated: rotated)
        return box
    }

    /// Inks the glyphs of `text` inside its (already placed) box.
    mutating func drawGlyphs(_ text: String, box: Rect, style: TextStyle, rotated: Bool) {
        let left = box.x, top = box.y, boxH = box.height
        let s = style.scale
        let adv = BitmapFont.advance + (style.bold ? 1 : 0)
        let strikes = style.bold ? 2 : 1
        var pen = 0  // position along the reading direction, in unscaled pixels
        for scalar in text.unicodeScalars {
            let bits = BitmapFont.glyph(for: scalar)
            if bits != 0 {
                for row in 0..<11 {
                    let rowBits = (bits >> UInt64(row * 5)) & 0x1F
                    if rowBits == 0 { continue }
                    for col in 0..<5 where rowBits & (1 << UInt64(col)) != 0 {
                        for k in 0..<strikes {
                            // (u, v): unrotated pixel offset inside the text box, unscaled.
                            let u = pen + col + k, v = BitmapFont.capTop + row
                            let r: Rect
                            if rotated {
                                // Rotate 90° CCW: u runs up from the bottom, v runs right.
                                r = Rect(x: left + v * s, y: top + boxH - (u + 1) * s, width: s, height: s)
                            } else {
                                r = Rect(x: left + u * s, y: top + v * s, width: s, height: s)
                            }
                            fill(r, with: style.color)
                        }
                    }
                }
            }
            pen += adv
        }
    }
}
