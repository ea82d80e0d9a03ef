// The SVG back end: the same drawing operations the PNG is rasterized from, written as vector
// elements in the same pixel coordinates (1 SVG user unit = 1 PNG pixel).
//
// - Heatmap cells are <rect>s, with runs of equal colour merged into one rectangle (along a row,
//   then equal runs of consecutive rows), inside <g class="cells"> (colour bars: "colorbar").
//   A matrix that still needs more than `maxCellRects` rectangles is embedded instead as one
//   PNG <image> of the cells only (one image pixel per cell, or the PNG's own pixels when the
//   matrix has more cells than the plot has pixels), drawn without smoothing; its axes, ticks,
//   labels and colour bar stay vectors. This keeps a 2000 x 2000 attention map at a few hundred
//   kilobytes instead of a quarter of a gigabyte of <rect>s.
// - Text is real <text> (searchable, selectable) in a monospaced font whose textLength is the
//   bitmap font's measured width, so the layout's no-overlap guarantee carries over.
// - Series are <polyline>s with round joins and caps (what the raster line's distance-based
//   coverage draws), clipped to the plot with a <clipPath>; markers are <circle>s.
import Foundation

extension Drawing {
    /// Beyond this many merged rectangles a heatmap's cells are embedded as one raster image.
    public static let defaultMaxCellRects = 20_000

    /// The figure as an SVG 1.1 document (UTF-8 text, deterministic).
    public func svg(maxCellRects: Int = Drawing.defaultMaxCellRects) -> String {
        var w = SVGWriter(maxCellRects: maxCellRects)
        if background.a > 0 {
            w.body += "<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\"\(w.paint("fill", background))/>\n"
        }
        for op in ops { w.add(op) }
        var head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        head += "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" version=\"1.1\""
        head += " width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\""
        // Text defaults (every shape names its own fill): only other sizes and colours are spelt out.
        head += " font-family=\"\(SVGWriter.fontFamily)\" font-size=\"\(SVGWriter.fontSize)\"\(w.paint("fill", .ink))>\n"
        if !w.clips.isEmpty {
            head += "<defs>\n"
            for (r, id) in w.clips.sorted(by: { $0.value < $1.value }) {
                head += "<clipPath id=\"clip\(id)\"><rect x=\"\(r.x)\" y=\"\(r.y)\" width=\"\(r.width)\" height=\"\(r.height)\"/></clipPath>\n"
            }
            head += "</defs>\n"
        }
        return head + w.body + "</svg>\n"
    }
}

struct SVGWriter {
    /// Fonts whose advance is about 0.6 em, close to the bitmap font's 6 px at 11 px.
    static let fontFamily = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace"
    /// Font size at text scale 1: caps about 8 px tall (the bitmap's are 9).
    static let fontSize = 11
    /// The bitmap font's baseline below the top of its line box (2 blank rows + 9 cap rows).
    static let baseline = BitmapFont.capTop + 9

    let maxCellRects: Int
    var body = ""
    var clips: [Rect: Int] = [:]

    init(maxCellRects: Int) { self.maxCellRects = max(0, maxCellRects) }

    mutating func add(_ op: DrawOp) {
        switch op {
        case .fill(let r, let c):
            guard !r.isEmpty else { return }
            body += "<rect x=\"\(r.x)\" y=\"\(r.y)\" width=\"\(r.width)\" height=\"\(r.height)\"\(paint("fill", c))/>\n"
        case .stroke(let r, let c, let lineWidth):
            // The raster border lies inside the rectangle: centre the stroke half a width in.
            let t = Double(max(1, lineWidth))
            body += "<rect x=\"\(num(Double(r.x) + t / 2))\" y=\"\(num(Double(r.y) + t / 2))\" width=\"\(num(Double(r.width) - t))\""
            body += " height=\"\(num(Double(r.height) - t))\" fill=\"none\"\(paint("stroke", c)) stroke-width=\"\(num(t))\"/>\n"
        case .polyline(let pts, let c, let lineWidth, let clip):
            guard !pts.isEmpty else { return }
            let list = pts.map { "\(num($0.x)),\(num($0.y))" }.joined(separator: " ")
            body += "<polyline points=\"\(list)\" fill=\"none\"\(paint("stroke", c)) stroke-width=\"\(num(lineWidth))\""
            body += " stroke-linejoin=\"round\" stroke-linecap=\"round\"\(clipAttribute(clip))/>\n"
        case .disc(let x, let y, let radius, let c, let clip):
            body += "<circle cx=\"\(num(x))\" cy=\"\(num(y))\" r=\"\(num(radius))\"\(paint("fill", c))\(clipAttribute(clip))/>\n"
        case .cells(let g): cells(g)
        case .text(let t): text(t)
        }
    }

    /// ` fill="#RRGGBB"` (plus an opacity attribute for translucent colours).
    func paint(_ attribute: String, _ c: RGBA) -> String {
        let digits = Array("0123456789ABCDEF")
        var hex = "#"
        for v in [c.r, c.g, c.b] { hex.append(digits[Int(v >> 4)]); hex.append(digits[Int(v & 15)]) }
        return " \(attribute)=\"\(hex)\"" + (c.a == 255 ? "" : " \(attribute)-opacity=\"\(num(Double(c.a) / 255))\"")
    }

    mutating func clipAttribute(_ clip: Rect?) -> String {
        guard let r = clip else { return "" }
        let id: Int
        if let known = clips[r] { id = known } else { id = clips.count; clips[r] = id }
        return " clip-path=\"url(#clip\(id))\""
    }

    /// Up to two decimals, no trailing zeros, no exponent ("12", "12.5", "-0.25").
    func num(_ v: Double) -> String { NumberFormat.trimZeros(NumberFormat.fixed(v, decimals: 2)) }

    // MARK: cells

    /// A rectangle of equal-coloured cells: rows r0..<r1, columns c0..<c1.
    struct Block { var r0: Int, r1: Int, c0: Int, c1: Int, color: RGBA }

    /// Equal colours merged along each row, then identical runs of consecutive rows merged.
    static func blocks(_ g: CellColors) -> [Block] {
        struct Run: Hashable { let c0: Int, c1: Int, color: RGBA }
        var out: [Block] = []
        var open: [Run: Int] = [:]   // runs of the previous row -> their block in `out`
        for r in 0..<g.layout.rows {
            var next: [Run: Int] = [:]
            var c = 0
            while c < g.layout.cols {
                let color = g[r, c]
                var e = c + 1
                while e < g.layout.cols && g[r, e] == color { e += 1 }
                let run = Run(c0: c, c1: e, color: color)
                if let i = open[run] {
                    out[i].r1 = r + 1
                    next[run] = i
                } else {
                    out.append(Block(r0: r, r1: r + 1, c0: c, c1: e, color: color))
                    next[run] = out.count - 1
                }
                c = e
            }
            open = next
        }
        return out
    }

    mutating func cells(_ g: CellColors) {
        let name = g.kind == .colorBar ? "colorbar" : "cells"
        let blocks = Self.blocks(g)
        guard blocks.count > maxCellRects else {
            body += "<g class=\"\(name)\" shape-rendering=\"crispEdges\">\n"
            for b in blocks {
                let a = g.layout.cellRect(row: b.r0, col: b.c0), z = g.layout.cellRect(row: b.r1 - 1, col: b.c1 - 1)
                let r = Rect(x: a.x, y: a.y, width: z.maxX - a.x, height: z.maxY - a.y)
                guard !r.isEmpty else { continue }
                body += "<rect x=\"\(r.x)\" y=\"\(r.y)\" width=\"\(r.width)\" height=\"\(r.height)\"\(paint("fill", b.color))/>\n"
            }
            body += "</g>\n"
            return
        }
        let plot = g.layout.plot
        guard !plot.isEmpty else { return }
        var image: Canvas
        if g.layout.cols <= plot.width && g.layout.rows <= plot.height {
            image = Canvas(width: g.layout.cols, height: g.layout.rows)
            for r in 0..<g.layout.rows { for c in 0..<g.layout.cols { image[c, r] = g[r, c] } }
        } else {
            // More cells than pixels: the PNG's own pixels of the plot (what the raster shows).
            image = Canvas(width: plot.width, height: plot.height)
            for r in 0..<g.layout.rows {
                for c in 0..<g.layout.cols {
                    let cell = g.layout.cellRect(row: r, col: c)
                    image.fill(Rect(x: cell.x - plot.x, y: cell.y - plot.y, width: cell.width, height: cell.height), with: g[r, c])
                }
            }
        }
        // Encoding a canvas we made ourselves only fails if libpng cannot allocate.
        let png = (try? PNG.encode(image)) ?? []
        body += "<image class=\"\(name)\" x=\"\(plot.x)\" y=\"\(plot.y)\" width=\"\(plot.width)\" height=\"\(plot.height)\""
        body += " preserveAspectRatio=\"none\" image-rendering=\"optimizeSpeed\" style=\"image-rendering:pixelated\""
        body += " xlink:href=\"data:image/png;base64,\(Data(png).base64EncodedString())\"/>\n"
    }

    // MARK: text

    mutating func text(_ t: TextRun) {
        let s = t.style.scale
        let length = BitmapFont.measure(t.text, style: t.style).width
        var attrs = s == 1 ? "" : " font-size=\"\(Self.fontSize * s)\""
        if t.style.color != .ink { attrs += paint("fill", t.style.color) }
        if t.style.bold { attrs += " font-weight=\"bold\"" }
        if length > 0 { attrs += " textLength=\"\(length)\" lengthAdjust=\"spacingAndGlyphs\"" }
        let content = Self.escape(t.text)
        if content.hasPrefix(" ") || content.hasSuffix(" ") || content.contains("  ") { attrs += " xml:space=\"preserve\"" }
        if t.rotated {
            // Reads upwards from the box's bottom; the glyphs' tops face left, baseline on the right.
            let x = t.box.x + Self.baseline * s, y = t.box.maxY
            body += "<text transform=\"translate(\(x),\(y)) rotate(-90)\" x=\"0\" y=\"0\"\(attrs)>\(content)</text>\n"
        } else {
            body += "<text x=\"\(t.box.x)\" y=\"\(t.box.y + Self.baseline * s)\"\(attrs)>\(content)</text>\n"
        }
    }

    /// XML-escaped text. Characters XML cannot hold, and the controls the bitmap font draws as
    /// "?", become "?" here too, so both files show (and measure) the same number of characters.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for u in text.unicodeScalars {
            switch u.value {
            case 0x26: out += "&amp;"
            case 0x3C: out += "&lt;"
            case 0x3E: out += "&gt;"
            case 0x22: out += "&quot;"
            case 0..<0x20, 0x7F...0x9F, 0xFFFE, 0xFFFF: out += "?"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }
}
