// Top-level figure: picks a size, lays out title, panels, colour bar or chart from measured
// text sizes so nothing overlaps at 100% zoom, and records the drawing that becomes a Canvas
// (PNG) or an SVG.

/// Space around a plot rectangle.
struct Margins: Hashable {
    var top = 0, left = 0, bottom = 0, right = 0

    func union(_ o: Margins) -> Margins {
        Margins(top: max(top, o.top), left: max(left, o.left), bottom: max(bottom, o.bottom),
                right: max(right, o.right))
    }
}

/// The plot length for `n` cells in `available` pixels: a whole multiple of `n` (all cells the
/// same size) unless that would waste more than 5% of the space; then the full length, with
/// cells differing by at most one pixel.
func snapToCells(_ available: Int, _ n: Int) -> Int {
    let snapped = available / n * n
    return snapped > 0 && available - snapped <= available / 20 ? snapped : max(1, available)
}

/// Where things landed in a rendered figure (for tests and for callers that add overlays).
public struct FigureLayout: Sendable, Hashable {
    /// The figure title's box, if any.
    public var title: Rect?
    /// One entry per heatmap panel, in the order given.
    public var panels: [PanelLayout] = []
    public var colorBar: ColorBarLayout?
    /// The line chart's plot area (inside the axes frame).
    public var plot: Rect?
    public var legend: Rect?
    /// Every title/label/tick-label box drawn (cell annotations excluded).
    public var textBoxes: [Rect] = []
}

public struct Figure: Sendable {
    public enum Content: Sendable {
        case heatmap(HeatmapPanel, colorBar: ColorBar?)
        case grid(PanelGrid)
        case lineChart(LineChart)
    }

    public var content: Content
    /// Large title at the top. For a single heatmap, nil promotes the panel's title.
    public var title: String?
    /// Lines of body text centred under the title (split at "\n"), e.g. what the figure shows.
    public var subtitle: String?
    public var width: Int
    public var height: Int
    public var padding: Int = 12
    public var background: RGBA = .white

    /// `width`/`height` default to 900x600 for a single panel or a chart, and to a size that
    /// gives each grid panel about 300x260 px for a grid.
    public init(_ content: Content, title: String? = nil, width: Int? = nil, height: Int? = nil) {
        self.content = content
        self.title = title
        let size: (Int, Int)
        switch content {
        case .heatmap, .lineChart: size = (900, 600)
        case .grid(let g): size = (170 + 300 * g.columns, 90 + 260 * g.gridRows)
        }
        self.width = max(64, width ?? size.0)
        self.height = max(64, height ?? size.1)
    }

    public static func heatmap(_ panel: HeatmapPanel, colorBar: ColorBar? = ColorBar(), title: String? = nil,
                               width: Int? = nil, height: Int? = nil) -> Figure {
        Figure(.heatmap(panel, colorBar: colorBar), title: title, width: width, height: height)
    }

    public static func grid(_ grid: PanelGrid, title: String? = nil, width: Int? = nil, height: Int? = nil) -> Figure {
        Figure(.grid(grid), title: title, width: width, height: height)
    }

    public static func lineChart(_ chart: LineChart, title: String? = nil, width: Int? = nil,
                                 height: Int? = nil) -> Figure {
        Figure(.lineChart(chart), title: title, width: width, height: height)
    }

    public func render() -> Canvas { renderWithLayout().canvas }

    /// The rendered figure as PNG or SVG, written atomically (see `PNG.write`).
    public func write(to path: String, format: ImageFormat = .png) throws {
        try draw().drawing.write(to: path, format: format)
    }

    public func renderWithLayout() -> (canvas: Canvas, layout: FigureLayout) {
        let (drawing, layout) = draw()
        return (drawing.rasterize(), layout)
    }

    /// Lays the figure out once: the drawing both back ends render, and where things landed.
    public func draw() -> (drawing: Drawing, layout: FigureLayout) {
        var p = Painter(drawing: Drawing(width: width, height: height, background: background))
        var layout = FigureLayout()
        var heading = title
        var panel: HeatmapPanel?
        if case .heatmap(var hp, _) = content {
            if heading == nil { heading = hp.title; hp.title = nil }
            panel = hp
        }
        switch content {
        case .grid(let g): if heading == nil { heading = g.title }
        case .lineChart(let c): if heading == nil { heading = c.title }
        case .heatmap: break
        }
        var area = Rect(x: padding, y: padding, width: width - 2 * padding, height: height - 2 * padding)
        if let h = heading {
            let box = Rect(x: width / 2 - BitmapFont.measure(h, style: .title).width / 2, y: padding,
                           width: BitmapFont.measure(h, style: .title).width,
                           height: BitmapFont.measure(h, style: .title).height)
            p.text(h, x: width / 2, y: padding, style: .title, align: .center)
            layout.title = box
            let used = box.height + 8
            area = Rect(x: area.x, y: area.y + used, width: area.width, height: area.height - used)
        }
        if let sub = subtitle {
            for line in sub.split(separator: "\n", omittingEmptySubsequences: false) {
                p.text(String(line), x: width / 2, y: area.y, align: .center)
                area = Rect(x: area.x, y: area.y + BitmapFont.lineHeight, width: area.width,
                            height: area.height - BitmapFont.lineHeight)
            }
            area = Rect(x: area.x, y: area.y + 6, width: area.width, height: area.height - 6)
        }
        switch content {
        case .heatmap(_, let bar):
            Figure.layoutSingle(panel!, colorBar: bar, in: area, painter: &p, layout: &layout)
        case .grid(let g):
            g.render(in: area, painter: &p, layout: &layout)
        case .lineChart(let c):
            c.render(in: area, painter: &p, layout: &layout)
        }
        layout.textBoxes = p.textBoxes
        return (p.drawing, layout)
    }

    static func layoutSingle(_ panel: HeatmapPanel, colorBar: ColorBar?, in area: Rect,
                             painter p: inout Painter, layout: inout FigureLayout) {
        let scale = panel.resolvedScale
        let hasNaN = panel.containsNaN
        let barW = colorBar?.requiredWidth(scale, hasNaN: hasNaN) ?? 0
        let flags = PanelFlags()
        let slot = Rect(x: area.x, y: area.y, width: area.width - barW, height: area.height)
        let decor = panel.decor(slotWidth: slot.width, flags: flags)
        let m = decor.margins
        let availW = max(1, slot.width - m.left - m.right)
        let availH = max(1, slot.height - m.top - m.bottom)
        let plotW = snapToCells(availW, panel.cols), plotH = snapToCells(availH, panel.rows)
        // Centre the plot (with its colour bar) in the leftover space.
        let plot = Rect(x: slot.x + m.left + (availW - plotW) / 2, y: slot.y + m.top + (availH - plotH) / 2,
                        width: plotW, height: plotH)
        layout.panels.append(panel.draw(on: &p, plot: plot, decor: decor, flags: flags, scale: scale))
        if let bar = colorBar {
            layout.colorBar = bar.draw(on: &p, x: plot.maxX + m.right, top: plot.y, bottom: plot.maxY,
                                       scale: scale, hasNaN: hasNaN)
        }
    }
}
