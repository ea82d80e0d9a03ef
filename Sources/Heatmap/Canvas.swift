// An RGBA8 pixel buffer with the few drawing primitives the figures need.
import Foundation

/// An sRGB colour with 8-bit channels and straight (non-premultiplied) alpha.
public struct RGBA: Hashable, Sendable, CustomStringConvertible {
    public var r: UInt8, g: UInt8, b: UInt8, a: UInt8

    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8, _ a: UInt8 = 255) {
        self.r = r; self.g = g; self.b = b; self.a = a
    }

    /// `RGBA(hex: 0x0072B2)` — opaque colour from 0xRRGGBB.
    public init(hex: UInt32) {
        self.init(UInt8((hex >> 16) & 0xFF), UInt8((hex >> 8) & 0xFF), UInt8(hex & 0xFF))
    }

    public static let white = RGBA(255, 255, 255)
    public static let black = RGBA(0, 0, 0)
    public static let clear = RGBA(0, 0, 0, 0)
    /// Dark grey used for axes, ticks and most text.
    public static let ink = RGBA(34, 34, 34)

    /// WCAG relative luminance in 0...1 (sRGB decoded to linear light).
    public var luminance: Double {
        func lin(_ c: UInt8) -> Double {
            let v = Double(c) / 255
            return v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4)
        }
        return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
    }

    public var description: String {
        let hex = (Int(r) << 16) | (Int(g) << 8) | Int(b)
        var s = String(hex, radix: 16, uppercase: true)
        while s.count < 6 { s = "0" + s }
        return a == 255 ? "#\(s)" : "#\(s) a=\(a)"
    }
}

/// An integer pixel rectangle; `x`,`y` is the top-left pixel, the far edges are exclusive.
public struct Rect: Hashable, Sendable, Codable, CustomStringConvertible {
    public var x: Int, y: Int, width: Int, height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }

    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    public var midX: Int { x + width / 2 }
    public var midY: Int { y + height / 2 }
    public var isEmpty: Bool { width <= 0 || height <= 0 }

    public func contains(x px: Int, y py: Int) -> Bool {
        px >= x && px < maxX && py >= y && py < maxY
    }

    public func intersects(_ o: Rect) -> Bool {
        !isEmpty && !o.isEmpty && x < o.maxX && o.x < maxX && y < o.maxY && o.y < maxY
    }

    public func intersection(_ o: Rect) -> Rect {
        let x0 = Swift.max(x, o.x), y0 = Swift.max(y, o.y)
        let x1 = Swift.min(maxX, o.maxX), y1 = Swift.min(maxY, o.maxY)
        return Rect(x: x0, y: y0, width: Swift.max(0, x1 - x0), height: Swift.max(0, y1 - y0))
    }

    public func insetBy(_ d: Int) -> Rect {
        Rect(x: x + d, y: y + d, width: width - 2 * d, height: height - 2 * d)
    }

    public var description: String { "Rect(x: \(x), y: \(y), w: \(width), h: \(height))" }
}

/// A width x height RGBA8 image, row-major, top row first, 4 bytes per pixel.
public struct Canvas: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// Raw RGBA bytes, `width * height * 4` of them.
    public private(set) var pixels: [UInt8]

    public init(width: Int, height: Int, background: RGBA = .white) {
        precondition(width > 0 && height > 0, "Canvas needs a positive size")
        self.width = width
        self.height = height
        // One 32-bit word per pixel (bytes r, g, b, a in memory order), then viewed as bytes.
        let word = UInt32(background.r) | UInt32(background.g) << 8 | UInt32(background.b) << 16
            | UInt32(background.a) << 24
        let words = [UInt32](repeating: UInt32(littleEndian: word), count: width * height)
        let px = words.withUnsafeBytes { [UInt8]($0) }
        self.pixels = px
    }

    /// Wraps existing RGBA bytes (`pixels.count` must be `width * height * 4`).
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height * 4,
                     "Canvas pixel buffer has the wrong size")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

    /// Reads or writes one pixel. Reading outside the canvas traps; writing outside is ignored.
    public subscript(x: Int, y: Int) -> RGBA {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x),\(y)) outside canvas")
            let i = (y * width + x) * 4
            return RGBA(pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3])
        }
        set {
            guard x >= 0 && x < width && y >= 0 && y < height else { return }
            let i = (y * width + x) * 4
            pixels[i] = newValue.r; pixels[i + 1] = newValue.g
            pixels[i + 2] = newValue.b; pixels[i + 3] = newValue.a
        }
    }

    /// Fills `rect` (clipped to the canvas) with `color` (replacing, not blending).
    public mutating func fill(_ rect: Rect, with color: RGBA) {
        let r = rect.intersection(bounds)
        guard !r.isEmpty else { return }
        let w = width
        pixels.withUnsafeMutableBufferPointer { p in
            for y in r.y..<r.maxY {
                var i = (y * w + r.x) * 4
                for _ in 0..<r.width {
                    p[i] = color.r; p[i + 1] = color.g; p[i + 2] = color.b; p[i + 3] = color.a
                    i += 4
                }
            }
        }
    }

    /// Draws a `lineWidth`-pixel border just inside `rect`.
    public mutating func stroke(_ rect: Rect, color: RGBA, lineWidth: Int = 1) {
        let t = max(1, lineWidth)
        fill(Rect(x: rect.x, y: rect.y, width: rect.width, height: t), with: color)
        fill(Rect(x: rect.x, y: rect.maxY - t, width: rect.width, height: t), with: color)
        fill(Rect(x: rect.x, y: rect.y, width: t, height: rect.height), with: color)
        fill(Rect(x: rect.maxX - t, y: rect.y, width: t, height: rect.height), with: color)
    }

    /// Composites `color` over the pixel with the given coverage (0...1) times the colour's alpha.
    public mutating func blend(x: Int, y: Int, color: RGBA, coverage: Double) {
        guard x >= 0 && x < width && y >= 0 && y < height else { return }
        let a = min(1, max(0, coverage)) * Double(color.a) / 255
        guard a > 0 else { return }
        let i = (y * width + x) * 4
        func mix(_ dst: UInt8, _ src: UInt8) -> UInt8 {
            UInt8((Double(dst) * (1 - a) + Double(src) * a).rounded())
        }
        pixels[i] = mix(pixels[i], color.r)
        pixels[i + 1] = mix(pixels[i + 1], color.g)
        pixels[i + 2] = mix(pixels[i + 2], color.b)
        pixels[i + 3] = UInt8(min(255, (Double(pixels[i + 3]) * (1 - a) + 255 * a).rounded()))
    }

    /// A crisp (aliased) Bresenham line between pixels, 1 or 2 pixels wide, endpoints included.
    /// The second pixel of a 2-pixel line lies right of steep lines and below shallow ones.
    public mutating func drawLine(x0: Int, y0: Int, x1: Int, y1: Int, color: RGBA, lineWidth: Int = 1) {
        let dx = abs(x1 - x0), dy = -abs(y1 - y0)
        let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        let steep = -dy > dx
        var err = dx + dy
        var x = x0, y = y0
        while true {
            self[x, y] = color
            if lineWidth >= 2 {
                if steep { self[x + 1, y] = color } else { self[x, y + 1] = color }
            }
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    /// An anti-aliased polyline through points in pixel coordinates (pixel (i,j) covers
    /// [i, i+1) x [j, j+1)). Coverage is the max over segments, so joints are not darkened.
    /// Pixels outside `clip` (default: whole canvas) are left alone.
    public mutating func drawPolyline(_ points: [(x: Double, y: Double)], color: RGBA,
                                      lineWidth: Double = 2, clip: Rect? = nil) {
        guard !points.isEmpty else { return }
        let area = (clip ?? bounds).intersection(bounds)
        guard !area.isEmpty else { return }
        let half = lineWidth / 2
        let reach = half + 1
        var minX = Double.infinity, minY = Double.infinity
        var maxX = -Double.infinity, maxY = -Double.infinity
        for p in points {
            minX = min(minX, p.x); maxX = max(maxX, p.x); minY = min(minY, p.y); maxY = max(maxY, p.y)
        }
        guard minX.isFinite && minY.isFinite && maxX.isFinite && maxY.isFinite else { return }
        let box = Canvas.box(minX, minY, maxX, maxY, reach).intersection(area)
        guard !box.isEmpty else { return }
        var cover = [Float](repeating: 0, count: box.width * box.height)
        let count = max(1, points.count - 1)
        for s in 0..<count {
            let a = points[s], b = points[min(s + 1, points.count - 1)]
            let sb = Canvas.box(min(a.x, b.x), min(a.y, b.y), max(a.x, b.x), max(a.y, b.y), reach)
                .intersection(box)
            if sb.isEmpty { continue }
            let vx = b.x - a.x, vy = b.y - a.y
            let len2 = vx * vx + vy * vy
            for py in sb.y..<sb.maxY {
                let cy = Double(py) + 0.5
                for px in sb.x..<sb.maxX {
                    let cx = Double(px) + 0.5
                    var t = len2 > 0 ? ((cx - a.x) * vx + (cy - a.y) * vy) / len2 : 0
                    t = min(1, max(0, t))
                    let ex = a.x + t * vx - cx, ey = a.y + t * vy - cy
                    let c = Float(min(1, max(0, half + 0.5 - (ex * ex + ey * ey).squareRoot())))
                    let k = (py - box.y) * box.width + (px - box.x)
                    if c > cover[k] { cover[k] = c }
                }
            }
        }
        for py in box.y..<box.maxY {
            for px in box.x..<box.maxX {
                let c = cover[(py - box.y) * box.width + (px - box.x)]
                if c > 0 { blend(x: px, y: py, color: color, coverage: Double(c)) }
            }
        }
    }

    /// A filled anti-aliased disc (markers, isolated points of a series).
    public mutating func fillCircle(cx: Double, cy: Double, radius: Double, color: RGBA, clip: Rect? = nil) {
        let area = (clip ?? bounds).intersection(bounds)
        let box = Canvas.box(cx, cy, cx, cy, radius + 1).intersection(area)
        guard !box.isEmpty else { return }
        for py in box.y..<box.maxY {
            for px in box.x..<box.maxX {
                let dx = Double(px) + 0.5 - cx, dy = Double(py) + 0.5 - cy
                let c = radius + 0.5 - (dx * dx + dy * dy).squareRoot()
                if c > 0 { blend(x: px, y: py, color: color, coverage: c) }
            }
        }
    }

    /// The pixel box covering [x0-pad, x1+pad] x [y0-pad, y1+pad].
    private static func box(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, _ pad: Double) -> Rect {
        let lx = Int(max(-1e9, (x0 - pad).rounded(.down))), ly = Int(max(-1e9, (y0 - pad).rounded(.down)))
        let hx = Int(min(1e9, (x1 + pad).rounded(.up))), hy = Int(min(1e9, (y1 + pad).rounded(.up)))
        return Rect(x: lx, y: ly, width: hx - lx + 1, height: hy - ly + 1)
    }
}
