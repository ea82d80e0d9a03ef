// The one description of a rendered figure: a list of drawing operations in pixel coordinates,
// made once by the layout code and handed to either back end (raster Canvas or SVG writer),
// so the PNG and the SVG of a figure cannot drift apart.

/// A point in pixel coordinates (pixel (i, j) covers [i, i+1) x [j, j+1)).
public typealias PixelPoint = (x: Double, y: Double)

/// A matrix of colours tiling a rectangle exactly, as `PanelLayout.cellRect` places the cells.
struct CellColors: Sendable {
    enum Kind: Sendable { case panel, colorBar }
    let kind: Kind
    let layout: PanelLayout
    /// Row-major, `layout.rows * layout.cols` of them.
    let colors: [RGBA]

    subscript(row: Int, col: Int) -> RGBA { colors[row * layout.cols + col] }
}

/// A line of text placed by its box (see `BitmapFont.measure` and `BitmapFont.box`).
struct TextRun: Sendable {
    let text: String
    let box: Rect
    let style: TextStyle
    /// Reads bottom-to-top (90° counter-clockwise); `box` is the rotated box.
    let rotated: Bool
}

enum DrawOp: Sendable {
    case fill(Rect, RGBA)
    /// A border `lineWidth` pixels wide just inside the rectangle.
    case stroke(Rect, RGBA, lineWidth: Int)
    /// Round-joined, round-capped line through the points, drawn only inside `clip`.
    case polyline([PixelPoint], RGBA, lineWidth: Double, clip: Rect?)
    case disc(cx: Double, cy: Double, radius: Double, RGBA, clip: Rect?)
    case cells(CellColors)
    case text(TextRun)
}

/// A figure ready to be rasterized (`rasterize`) or written as SVG (`svg`).
public struct Drawing: Sendable {
    public let width: Int
    public let height: Int
    public let background: RGBA
    private(set) var ops: [DrawOp] = []

    init(width: Int, height: Int, background: RGBA) {
        self.width = width; self.height = height; self.background = background
    }

    mutating func add(_ op: DrawOp) { ops.append(op) }

    /// The raster back end: every operation replayed on a canvas, in order.
    public func rasterize() -> Canvas {
        var canvas = Canvas(width: width, height: height, background: background)
        for op in ops {
            switch op {
            case .fill(let r, let c): canvas.fill(r, with: c)
            case .stroke(let r, let c, let w): canvas.stroke(r, color: c, lineWidth: w)
            case .polyline(let pts, let c, let w, let clip): canvas.drawPolyline(pts, color: c, lineWidth: w, clip: clip)
            case .disc(let x, let y, let r, let c, let clip): canvas.fillCircle(cx: x, cy: y, radius: r, color: c, clip: clip)
            case .cells(let g):
                for r in 0..<g.layout.rows {
                    for c in 0..<g.layout.cols { canvas.fill(g.layout.cellRect(row: r, col: c), with: g[r, c]) }
                }
            case .text(let t): canvas.drawGlyphs(t.text, box: t.box, style: t.style, rotated: t.rotated)
            }
        }
        return canvas
    }
}

/// Records a figure's drawing operations and every label box (for layout checks).
struct Painter {
    var drawing: Drawing
    var textBoxes: [Rect] = []

    mutating func fill(_ r: Rect, with c: RGBA) { drawing.add(.fill(r, c)) }

    mutating func stroke(_ r: Rect, color: RGBA, lineWidth: Int = 1) {
        drawing.add(.stroke(r, color, lineWidth: lineWidth))
    }

    mutating func polyline(_ points: [PixelPoint], color: RGBA, lineWidth: Double, clip: Rect? = nil) {
        drawing.add(.polyline(points, color, lineWidth: lineWidth, clip: clip))
    }

    mutating func disc(cx: Double, cy: Double, radius: Double, color: RGBA, clip: Rect? = nil) {
        drawing.add(.disc(cx: cx, cy: cy, radius: radius, color, clip: clip))
    }

    mutating func cells(_ layout: PanelLayout, colors: [RGBA], kind: CellColors.Kind = .panel) {
        drawing.add(.cells(CellColors(kind: kind, layout: layout, colors: colors)))
    }

    /// A title, label or tick label: drawn and its box recorded.
    mutating func text(_ s: String, x: Int, y: Int, style: TextStyle = .body, align: HAlign = .left,
                       valign: VAlign = .top, rotated: Bool = false) {
        guard !s.isEmpty else { return }
        textBoxes.append(place(s, x: x, y: y, style: style, align: align, valign: valign, rotated: rotated))
    }

    /// Text inside a cell: drawn but not recorded (cells are allowed to hold text).
    mutating func annotation(_ s: String, x: Int, y: Int, style: TextStyle) {
        _ = place(s, x: x, y: y, style: style, align: .left, valign: .top, rotated: false)
    }

    private mutating func place(_ s: String, x: Int, y: Int, style: TextStyle, align: HAlign, valign: VAlign,
                                rotated: Bool) -> Rect {
        let box = BitmapFont.box(s, x: x, y: y, style: style, align: align, valign: valign, rotated: rotated)
        drawing.add(.text(TextRun(text: s, box: box, style: style, rotated: rotated)))
        return box
    }
}

/// The file formats a figure can be written in.
public enum ImageFormat: String, Sendable, CaseIterable {
    /// Raster, exactly the pixels of `Drawing.rasterize`.
    case png
    /// Vector (see SVGWriter.swift for how cells, text and lines are written).
    case svg

    /// The format a file name's extension names ("x.SVG" -> .svg), or nil.
    public init?(pathExtension path: String) {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        self.init(rawValue: name[name.index(after: dot)...].lowercased())
    }
}

extension Drawing {
    /// The file's bytes in `format`.
    public func encoded(_ format: ImageFormat) throws -> [UInt8] {
        switch format {
        case .png: return try PNG.encode(rasterize())
        case .svg: return Array(svg().utf8)
        }
    }

    /// Writes the figure atomically: nothing appears at `path` unless every byte was written.
    public func write(to path: String, format: ImageFormat) throws {
        try PNG.writeAtomically(try encoded(format), to: path, kind: format.rawValue.uppercased())
    }
}
