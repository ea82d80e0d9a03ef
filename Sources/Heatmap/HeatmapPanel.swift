// One matrix drawn as coloured cells, with title, axis labels, tick labels and annotations.

/// How an axis of a heatmap is labelled, one label per row or column.
public enum TickLabels: Sendable, Hashable {
    case none
    /// Row/column numbers starting at `start`; shown every 1, 2, 5, 10, ... as space allows.
    case indices(start: Int = 0)
    /// One number per row/column (formatted compactly).
    case numbers([Double])
    /// One string per row/column, e.g. tokens; long strings are shortened with "..".
    case categories([String])
}

/// Text written inside the cells.
public enum CellAnnotations: Sendable, Hashable {
    case none
    /// Each cell's value with a fixed number of decimals ("0.38", "0.05").
    case values(decimals: Int = 2)
    /// Each cell's value in compact form with this many significant digits ("0.38", "7.6e-3").
    case compact(significantDigits: Int = 2)
    /// One string per cell, row-major.
    case text([String])
}

/// A rows x cols matrix (row-major Float values) drawn as cells; row 0 is at the top.
/// Annotations and tick labels are only drawn where they fit: tick labels are thinned to every
/// k-th (k in 1, 2, 5, 10, ...) and categorical column labels turn vertical when that avoids
/// thinning; annotations are skipped in cells too small for them.
public struct HeatmapPanel: Sendable {
    public var values: [Float]
    public let rows: Int
    public let cols: Int
    public var title: String?
    public var xLabel: String?
    public var yLabel: String?
    public var xTicks: TickLabels
    public var yTicks: TickLabels
    public var annotations: CellAnnotations
    /// Colour scale; nil means `ColorScale.fitting(values)` with viridis.
    public var scale: ColorScale?
    /// Categorical tick labels longer than this are shortened.
    public var maxTickLabelChars: Int = 16

    public init(values: [Float], rows: Int, cols: Int, title: String? = nil,
                xLabel: String? = nil, yLabel: String? = nil,
                xTicks: TickLabels = .indices(), yTicks: TickLabels = .indices(),
                annotations: CellAnnotations = .none, scale: ColorScale? = nil) {
        precondition(rows > 0 && cols > 0 && values.count == rows * cols,
                     "HeatmapPanel: values.count (\(values.count)) must be rows*cols (\(rows)*\(cols))")
        self.values = values
        self.rows = rows
        self.cols = cols
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xTicks = xTicks
        self.yTicks = yTicks
        self.annotations = annotations
        self.scale = scale
    }

    public subscript(row: Int, col: Int) -> Float { values[row * cols + col] }

    public var containsNaN: Bool { values.contains { $0.isNaN } }

    /// The scale in use: `scale`, or one fitted to the values.
    public var resolvedScale: ColorScale { scale ?? .fitting(values) }

    func tickStrings(_ ticks: TickLabels, count: Int) -> [String]? {
        switch ticks {
        case .none: return nil
        case .indices(let start): return (0..<count).map { String(start + $0) }
        case .numbers(let xs):
            return (0..<count).map { $0 < xs.count ? NumberFormat.compact(xs[$0]) : "" }
        case .categories(let names):
            return (0..<count).map { $0 < names.count ? BitmapFont.truncate(names[$0], maxChars: maxTickLabelChars) : "" }
        }
    }
}

/// Where a panel's matrix landed. Cells tile `plot` exactly.
public struct PanelLayout: Sendable, Hashable {
    public let plot: Rect
    public let rows: Int
    public let cols: Int

    /// The pixels of cell (row, col); row 0 is the top row.
    public func cellRect(row: Int, col: Int) -> Rect {
        let x0 = (col * plot.width + cols - 1) / cols, x1 = ((col + 1) * plot.width + cols - 1) / cols
        let y0 = (row * plot.height + rows - 1) / rows, y1 = ((row + 1) * plot.height + rows - 1) / rows
        return Rect(x: plot.x + x0, y: plot.y + y0, width: x1 - x0, height: y1 - y0)
    }
}

/// Which decorations a panel shows (grids hide inner tick labels).
struct PanelFlags {
    var title = true, xTicks = true, yTicks = true, xLabel = true, yLabel = true
}

/// Space a panel needs around its plot, and how its column labels are drawn.
struct PanelDecor {
    var margins: Margins
    var rotateX: Bool
}

extension HeatmapPanel {
    static let tickLength = 4
    static let tickGap = 3
    static let labelGap = 6

    /// Margins around the plot for the given slot width (used to estimate the cell width).
    func decor(slotWidth: Int, flags: PanelFlags) -> PanelDecor {
        let lh = BitmapFont.lineHeight
        let yStrings = flags.yTicks ? tickStrings(yTicks, count: rows) : nil
        let xStrings = flags.xTicks ? tickStrings(xTicks, count: cols) : nil
        var left = 1
        if let ys = yStrings { left += Self.tickLength + Self.tickGap + BitmapFont.maxWidth(ys) }
        if flags.yLabel, yLabel != nil { left += lh + Self.labelGap }

        let plotEstimate = Double(max(1, slotWidth - left - 8))
        let cellW = plotEstimate / Double(cols)
        var rotate = false
        var bottom = 1
        var right = 1
        if let xs = xStrings {
            let maxW = BitmapFont.maxWidth(xs)
            if case .categories = xTicks, cellW < Double(maxW + 6), cellW >= Double(lh + 2) {
                rotate = true
            }
            bottom += Self.tickLength + Self.tickGap + (rotate ? maxW : lh)
            if !rotate, let last = xs.last {
                // The last column's label may stick out past the plot's right edge.
                right = max(right, BitmapFont.measure(last).width / 2 - Int(cellW / 2) + 1)
            }
        }
        if flags.xLabel, xLabel != nil { bottom += Self.labelGap + lh }
        var top = 1
        if flags.title, title != nil { top += lh + Self.labelGap }
        // Row labels are centred on the rows and may reach half a line above / below the plot.
        if yStrings != nil {
            top = max(top, lh / 2 + 1)
            bottom = max(bottom, lh / 2 + 1)
        }
        return PanelDecor(margins: Margins(top: top, left: left, bottom: bottom, right: right), rotateX: rotate)
    }

    /// Draws cells, frame, ticks, labels and title around `plot` (whose margins are `decor`).
    func draw(on p: inout Painter, plot: Rect, decor: PanelDecor, flags: PanelFlags,
              scale: ColorScale) -> PanelLayout {
        let layout = PanelLayout(plot: plot, rows: rows, cols: cols)
        let lh = BitmapFont.lineHeight
        // Cells.
        var cellColors = [RGBA](repeating: .black, count: values.count)
        for i in 0..<values.count { cellColors[i] = scale.color(values[i]) }
        p.cells(layout, colors: cellColors)
        p.stroke(plot.insetBy(-1), color: .ink)
        drawAnnotations(on: &p, layout: layout, colors: cellColors)

        // Column ticks and labels.
        var belowTicks = plot.maxY + 1
        if flags.xTicks, let xs = tickStrings(xTicks, count: cols) {
            let spacing = Double(plot.width) / Double(cols)
            let extent = decor.rotateX ? lh : BitmapFont.maxWidth(xs)
            let shown = Ticks.thinned(count: cols, spacing: spacing, extent: extent,
                                      gap: decor.rotateX ? 2 : 8)
            let y0 = plot.maxY + 1
            for c in shown {
                let cell = layout.cellRect(row: 0, col: c)
                let cx = cell.x + cell.width / 2
                p.fill(Rect(x: cx, y: y0, width: 1, height: Self.tickLength), with: .ink)
                p.text(xs[c], x: cx + (decor.rotateX ? 1 : 0), y: y0 + Self.tickLength + Self.tickGap,
                       align: .center, valign: .top, rotated: decor.rotateX)
            }
            belowTicks = y0 + Self.tickLength + Self.tickGap + (decor.rotateX ? BitmapFont.maxWidth(xs) : lh)
        }
        if flags.xLabel, let label = xLabel {
            p.text(label, x: plot.x + plot.width / 2, y: belowTicks + Self.labelGap, align: .center)
        }

        // Row ticks and labels.
        var leftOfTicks = plot.x - 1
        if flags.yTicks, let ys = tickStrings(yTicks, count: rows) {
            let spacing = Double(plot.height) / Double(rows)
            let shown = Ticks.thinned(count: rows, spacing: spacing, extent: lh - 3, gap: 2)
            let x0 = plot.x - 1
            for r in shown {
                let cell = layout.cellRect(row: r, col: 0)
                let cy = cell.y + cell.height / 2
                p.fill(Rect(x: x0 - Self.tickLength, y: cy, width: Self.tickLength, height: 1), with: .ink)
                p.text(ys[r], x: x0 - Self.tickLength - Self.tickGap, y: cy, align: .right, valign: .middle)
            }
            leftOfTicks = x0 - Self.tickLength - Self.tickGap - BitmapFont.maxWidth(ys)
        }
        if flags.yLabel, let label = yLabel {
            p.text(label, x: leftOfTicks - Self.labelGap, y: plot.y + plot.height / 2,
                   align: .right, valign: .middle, rotated: true)
        }
        if flags.title, let t = title {
            p.text(t, x: plot.x + plot.width / 2, y: plot.y - 1 - Self.labelGap, align: .center, valign: .bottom)
        }
        return layout
    }

    private func drawAnnotations(on p: inout Painter, layout: PanelLayout, colors: [RGBA]) {
        let strings: [String]
        switch annotations {
        case .none: return
        case .values(let decimals):
            strings = values.map { $0.isNaN ? "" : NumberFormat.fixed(Double($0), decimals: decimals) }
        case .compact(let digits):
            strings = values.map { $0.isNaN ? "" : NumberFormat.compact(Double($0), significantDigits: digits) }
        case .text(let t):
            strings = (0..<values.count).map { $0 < t.count ? t[$0] : "" }
        }
        for r in 0..<rows {
            for c in 0..<cols {
                let s = strings[r * cols + c]
                if s.isEmpty { continue }
                let cell = layout.cellRect(row: r, col: c)
                let size = BitmapFont.measure(s)
                guard size.width <= cell.width - 2, BitmapFont.lineHeight - 2 <= cell.height else { continue }
                let bg = colors[r * cols + c]
                let ink: RGBA = bg.luminance > 0.36 ? .black : .white
                // Centre the inked rows (cap line to baseline) in the cell.
                p.annotation(s, x: cell.x + (cell.width - size.width) / 2,
                             y: cell.y + (cell.height - 9) / 2 - BitmapFont.capTop, style: TextStyle(color: ink))
            }
        }
    }
}
