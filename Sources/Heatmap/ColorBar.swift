// A vertical colour bar: the scale's gradient with tick values, an optional label, and a
// "NaN" swatch when the data has NaN.

public struct ColorBar: Sendable, Hashable {
    /// Text written vertically beside the tick labels (e.g. "attention").
    public var label: String?
    public var maxTicks: Int
    public var barWidth: Int
    /// Show the NaN swatch: nil = only when the data contains NaN.
    public var showNaN: Bool?

    public init(label: String? = nil, maxTicks: Int = 8, barWidth: Int = 16, showNaN: Bool? = nil) {
        self.label = label
        self.maxTicks = maxTicks
        self.barWidth = barWidth
        self.showNaN = showNaN
    }

    static let leadingGap = 18
    static let nanSwatchHeight = 12
    static let nanGap = 10

    /// At most `maxTicks`, and no more than one per 28 px of bar.
    func tickValues(_ scale: ColorScale, height: Int = 10_000) -> [Double] {
        scale.ticks(maxCount: max(2, min(maxTicks, height / 28)))
    }

    func tickLabels(_ scale: ColorScale, height: Int = 10_000) -> [String] {
        Ticks.labels(tickValues(scale, height: height), log: scale.mapping == .log)
    }

    /// Horizontal space the bar needs, from the plot's right edge to the end of its label.
    func requiredWidth(_ scale: ColorScale, hasNaN: Bool) -> Int {
        var labels = tickLabels(scale)
        if showNaN ?? hasNaN { labels.append("NaN") }
        var w = Self.leadingGap + barWidth + 1 + HeatmapPanel.tickLength + HeatmapPanel.tickGap
        w += BitmapFont.maxWidth(labels)
        if label != nil { w += 8 + BitmapFont.lineHeight }
        return w
    }

    /// Draws the bar starting `leadingGap` right of `x`, spanning `top..<bottom` vertically.
    func draw(on p: inout Painter, x: Int, top: Int, bottom: Int, scale: ColorScale,
              hasNaN: Bool) -> ColorBarLayout {
        let barX = x + Self.leadingGap
        var barBottom = bottom
        var swatch: Rect?
        if showNaN ?? hasNaN {
            let s = Rect(x: barX, y: bottom - Self.nanSwatchHeight, width: barWidth, height: Self.nanSwatchHeight)
            swatch = s
            barBottom = s.y - Self.nanGap
        }
        let bar = Rect(x: barX, y: top, width: barWidth, height: max(2, barBottom - top))
        // Row r (from the top) shows fraction (h-1-r)/(h-1): the bottom row is the map's first
        // colour and the top row its last, exactly as the cells map vmin and vmax.
        let h = bar.height
        let rowColors = (0..<h).map { r in scale.colormap.color(at: Double(h - 1 - r) / Double(h - 1)) }
        p.cells(PanelLayout(plot: bar, rows: h, cols: 1), colors: rowColors, kind: .colorBar)
        p.stroke(bar.insetBy(-1), color: .ink)
        let labelX = bar.maxX + 1 + HeatmapPanel.tickLength + HeatmapPanel.tickGap
        var widest = 0
        let values = tickValues(scale, height: h), labels = tickLabels(scale, height: h)
        for (v, s) in zip(values, labels) {
            guard let t = scale.fraction(v) else { continue }
            let y = bar.y + Int(((1 - t) * Double(h - 1)).rounded())
            p.fill(Rect(x: bar.maxX + 1, y: y, width: HeatmapPanel.tickLength, height: 1), with: .ink)
            p.text(s, x: labelX, y: y, align: .left, valign: .middle)
            widest = max(widest, BitmapFont.measure(s).width)
        }
        if let s = swatch {
            p.fill(s, with: scale.nanColor)
            p.stroke(s.insetBy(-1), color: .ink)
            p.text("NaN", x: labelX, y: s.y + s.height / 2, align: .left, valign: .middle)
            widest = max(widest, BitmapFont.measure("NaN").width)
        }
        if let l = label {
            p.text(l, x: labelX + widest + 8, y: bar.y + bar.height / 2, align: .left, valign: .middle,
                   rotated: true)
        }
        return ColorBarLayout(bar: bar, nanSwatch: swatch)
    }
}

/// Where a colour bar landed: `bar` is the gradient (bottom row = first map colour, top row =
/// last), `nanSwatch` the NaN legend box if shown.
public struct ColorBarLayout: Sendable, Hashable {
    public let bar: Rect
    public let nanSwatch: Rect?
}
