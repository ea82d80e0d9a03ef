// Several heatmaps in a grid sharing one colour scale and one colour bar.

public struct PanelGrid: Sendable {
    /// Panels in row-major order; the last grid row may be incomplete.
    public var panels: [HeatmapPanel]
    public var columns: Int
    /// Overall title (used as the figure title unless the figure sets its own).
    public var title: String?
    /// Shared scale; nil fits one scale (viridis) to the values of all panels.
    /// The panels' own `scale` fields are ignored.
    public var scale: ColorScale?
    public var colorBar: ColorBar
    /// With shared axes, row tick labels and the y label appear only in the first column, and
    /// column tick labels and the x label only on the lowest panel of each column.
    public var shareAxes: Bool
    /// Empty space between neighbouring panels.
    public var gutter: Int

    public init(panels: [HeatmapPanel], columns: Int, title: String? = nil, scale: ColorScale? = nil,
                colorBar: ColorBar = ColorBar(), shareAxes: Bool = true, gutter: Int = 14) {
        precondition(!panels.isEmpty && columns > 0, "PanelGrid needs panels and columns > 0")
        self.panels = panels
        self.columns = min(columns, panels.count)
        self.title = title
        self.scale = scale
        self.colorBar = colorBar
        self.shareAxes = shareAxes
        self.gutter = gutter
    }

    public var gridRows: Int { (panels.count + columns - 1) / columns }

    /// The scale in use: `scale`, or one fitted to every panel's values.
    public var resolvedScale: ColorScale { scale ?? .fitting(panels.flatMap { $0.values }) }

    func flags(_ i: Int) -> PanelFlags {
        var f = PanelFlags()
        guard shareAxes else { return f }
        let c = i % columns
        let lowest = i + columns >= panels.count
        f.yTicks = c == 0; f.yLabel = c == 0
        f.xTicks = lowest; f.xLabel = lowest
        return f
    }

    func render(in area: Rect, painter p: inout Painter, layout: inout FigureLayout) {
        let scale = resolvedScale
        let hasNaN = panels.contains { $0.containsNaN }
        let barW = colorBar.requiredWidth(scale, hasNaN: hasNaN)
        let nr = gridRows, nc = columns
        let slotW = (area.width - barW - gutter * (nc - 1)) / nc
        let decors = panels.indices.map { panels[$0].decor(slotWidth: slotW, flags: flags($0)) }
        // Uniform plot sizes: each grid column takes its widest left/right margins, each grid row
        // its tallest top/bottom margins.
        var colM = [Margins](repeating: Margins(), count: nc)
        var rowM = [Margins](repeating: Margins(), count: nr)
        for (i, d) in decors.enumerated() {
            colM[i % nc] = colM[i % nc].union(d.margins)
            rowM[i / nc] = rowM[i / nc].union(d.margins)
        }
        let sumW = colM.reduce(0) { $0 + $1.left + $1.right } + gutter * (nc - 1)
        let sumH = rowM.reduce(0) { $0 + $1.top + $1.bottom } + gutter * (nr - 1)
        var plotW = max(1, (area.width - barW - sumW) / nc)
        var plotH = max(1, (area.height - sumH) / nr)
        // Equal-sized cells when every panel has the same shape (see snapToCells).
        let shape = (panels[0].rows, panels[0].cols)
        if panels.allSatisfy({ ($0.rows, $0.cols) == shape }) {
            plotW = snapToCells(plotW, shape.1)
            plotH = snapToCells(plotH, shape.0)
        }
        let usedW = sumW + plotW * nc + barW, usedH = sumH + plotH * nr
        let x0 = area.x + max(0, area.width - usedW) / 2, y0 = area.y + max(0, area.height - usedH) / 2
        var plotTop = Int.max, plotBottom = Int.min, plotRight = Int.min
        for (i, panel) in panels.enumerated() {
            let r = i / nc, c = i % nc
            var x = x0, y = y0
            for k in 0..<c { x += colM[k].left + colM[k].right + plotW + gutter }
            for k in 0..<r { y += rowM[k].top + rowM[k].bottom + plotH + gutter }
            let plot = Rect(x: x + colM[c].left, y: y + rowM[r].top, width: plotW, height: plotH)
            var decor = decors[i]
            decor.margins = Margins(top: rowM[r].top, left: colM[c].left, bottom: rowM[r].bottom,
                                    right: colM[c].right)
            layout.panels.append(panel.draw(on: &p, plot: plot, decor: decor, flags: flags(i), scale: scale))
            plotTop = min(plotTop, plot.y); plotBottom = max(plotBottom, plot.maxY)
            plotRight = max(plotRight, plot.maxX + colM[c].right)
        }
        layout.colorBar = colorBar.draw(on: &p, x: plotRight, top: plotTop, bottom: plotBottom,
                                        scale: scale, hasNaN: hasNaN)
    }
}
