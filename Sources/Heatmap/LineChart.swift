// Line chart: several (x, y) series with NaN gaps, nice ticks, optional log y, and a legend.
import Foundation

public struct Series: Sendable {
    public var name: String
    public var x: [Double]
    public var y: [Double]
    /// nil takes the next palette colour.
    public var color: RGBA?
    public var lineWidth: Double
    /// Draw a dot at every point.
    public var markers: Bool

    /// A non-finite x or y (NaN) breaks the line; a point with no finite neighbour is drawn as
    /// a dot. `x.count` and `y.count` must match.
    public init(name: String, x: [Double], y: [Double], color: RGBA? = nil, lineWidth: Double = 2,
                markers: Bool = false) {
        precondition(x.count == y.count, "Series '\(name)': x and y differ in length")
        self.name = name; self.x = x; self.y = y; self.color = color
        self.lineWidth = lineWidth; self.markers = markers
    }

    /// y against 0, 1, 2, ...
    public init(name: String, y: [Double], color: RGBA? = nil, lineWidth: Double = 2, markers: Bool = false) {
        self.init(name: name, x: y.indices.map(Double.init), y: y, color: color, lineWidth: lineWidth,
                  markers: markers)
    }
}

public enum LegendPlacement: Sendable, Hashable {
    /// The first free inside corner (top right, top left, bottom right, bottom left) where no
    /// data is drawn; outside on the right when every corner has data.
    case auto
    case none
    case topRight, topLeft, bottomRight, bottomLeft, outsideRight
}

public struct LineChart: Sendable {
    public var series: [Series]
    public var title: String?
    public var xLabel: String?
    public var yLabel: String?
    /// Log10 y axis. Values <= 0 cannot be placed on it and are treated like NaN (gaps).
    public var logY: Bool
    /// Fixed axis ranges; nil fits the data (x exactly, y with a 5% margin).
    public var xRange: ClosedRange<Double>?
    public var yRange: ClosedRange<Double>?
    public var legend: LegendPlacement
    public var gridLines: Bool

    public init(series: [Series], title: String? = nil, xLabel: String? = nil, yLabel: String? = nil,
                logY: Bool = false, xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil,
                legend: LegendPlacement = .auto, gridLines: Bool = true) {
        self.series = series; self.title = title; self.xLabel = xLabel; self.yLabel = yLabel
        self.logY = logY; self.xRange = xRange; self.yRange = yRange; self.legend = legend
        self.gridLines = gridLines
    }

    func color(_ i: Int) -> RGBA { series[i].color ?? Palette.color(i) }

    func usable(_ x: Double, _ y: Double) -> Bool { x.isFinite && y.isFinite && (!logY || y > 0) }

    /// Data ranges in axis units (log10 for a log y axis).
    func ranges() -> (x: ClosedRange<Double>, y: ClosedRange<Double>) {
        var x0 = Double.infinity, x1 = -Double.infinity, y0 = Double.infinity, y1 = -Double.infinity
        for s in series {
            for (x, y) in zip(s.x, s.y) where usable(x, y) {
                x0 = min(x0, x); x1 = max(x1, x)
                let v = logY ? log10(y) : y
                y0 = min(y0, v); y1 = max(y1, v)
            }
        }
        if !x0.isFinite { x0 = 0; x1 = 1 }
        if !y0.isFinite { y0 = 0; y1 = 1 }
        if x1 <= x0 { x0 -= 0.5; x1 += 0.5 }
        if y1 <= y0 { let pad = y0 == 0 ? 1 : abs(y0) * 0.1; y0 -= pad; y1 += pad }
        let padY = (y1 - y0) * 0.05
        var xr = x0...x1, yr = (y0 - padY)...(y1 + padY)
        if let r = xRange, r.upperBound > r.lowerBound { xr = r }
        if let r = yRange {
            let lo = logY ? log10(max(r.lowerBound, 1e-300)) : r.lowerBound
            let hi = logY ? log10(max(r.upperBound, 1e-300)) : r.upperBound
            if hi > lo { yr = lo...hi }
        }
        return (xr, yr)
    }

    /// Data to pixel centres inside the plot rectangle (y in axis units: log10 on a log axis).
    struct Mapping {
        let plot: Rect, xr: ClosedRange<Double>, yr: ClosedRange<Double>, logY: Bool
        func px(_ x: Double) -> Double {
            Double(plot.x) + (x - xr.lowerBound) / (xr.upperBound - xr.lowerBound) * Double(plot.width - 1) + 0.5
        }
        func py(_ yAxis: Double) -> Double {
            Double(plot.maxY - 1) - (yAxis - yr.lowerBound) / (yr.upperBound - yr.lowerBound)
                * Double(plot.height - 1) + 0.5
        }
        /// A data value's y: log10 first on a log axis.
        func pyValue(_ y: Double) -> Double { py(logY ? log10(y) : y) }
    }

    /// Ticks and labels of an axis.
    struct AxisTicks { var values: [Double], labels: [String] }

    func render(in area: Rect, painter p: inout Painter, layout: inout FigureLayout) {
        let lh = BitmapFont.lineHeight
        let (xr, yr) = ranges()
        let yTicks = yAxisTicks(yr, height: area.height)
        let tick = HeatmapPanel.tickLength, gap = HeatmapPanel.tickGap, lgap = HeatmapPanel.labelGap
        var left = 1 + tick + gap + BitmapFont.maxWidth(yTicks.labels)
        if yLabel != nil { left += lh + lgap }
        var bottom = 1 + tick + gap + lh
        if xLabel != nil { bottom += lgap + lh }
        let margins = (left: left, top: lh / 2 + 2, bottom: bottom)
        let entries = series.indices.filter { !series[$0].name.isEmpty }
        let (plot, legendBox) = placePlot(in: area, margins: margins, entries: entries, xr: xr, yr: yr)
        layout.plot = plot
        let xTicks = xAxisTicks(xr, width: plot.width)
        let m = Mapping(plot: plot, xr: xr, yr: yr, logY: logY)
        if gridLines { drawGrid(m, xTicks: xTicks, yTicks: yTicks, painter: &p) }
        drawSeries(m, painter: &p)
        drawAxes(m, xTicks: xTicks, yTicks: yTicks, painter: &p)
        if let box = legendBox {
            drawLegend(box, entries: entries, painter: &p)
            layout.legend = box
        }
    }

    /// y ticks depend only on the range (count from a generous height estimate).
    func yAxisTicks(_ yr: ClosedRange<Double>, height: Int) -> AxisTicks {
        let yCount = max(3, min(8, height / 60))
        if logY {
            let t = Ticks.log(min: pow(10, yr.lowerBound), max: pow(10, yr.upperBound), maxCount: yCount)
            return AxisTicks(values: t, labels: Ticks.labels(t, log: true))
        }
        let t = Ticks.linear(min: yr.lowerBound, max: yr.upperBound, maxCount: yCount)
        return AxisTicks(values: t, labels: Ticks.labels(t))
    }

    /// x ticks: as many as fit with their label widths.
    func xAxisTicks(_ xr: ClosedRange<Double>, width: Int) -> AxisTicks {
        var count = max(2, min(10, width / 70))
        while true {
            let t = Ticks.linear(min: xr.lowerBound, max: xr.upperBound, maxCount: count)
            let l = Ticks.labels(t)
            let need = (BitmapFont.maxWidth(l) + 16) * max(1, l.count)
            if need <= width || count <= 2 { return AxisTicks(values: t, labels: l) }
            count -= 1
        }
    }

    /// The plot rectangle and the legend's box: the legend goes where `legend` says, or (auto)
    /// in the first inside corner the data leaves free, else outside on the right.
    func placePlot(in area: Rect, margins: (left: Int, top: Int, bottom: Int), entries: [Int],
                   xr: ClosedRange<Double>, yr: ClosedRange<Double>) -> (Rect, Rect?) {
        let legendSize = (width: 8 + 22 + 6 + BitmapFont.maxWidth(entries.map { series[$0].name }) + 8,
                          height: 6 + entries.count * 16 + 2)
        func plotRect(outsideLegend: Bool) -> Rect {
            var right = 2 + BitmapFont.measure(Ticks.labels([xr.upperBound]).first ?? "").width / 2
            if outsideLegend { right = max(right, legendSize.width + 12) }
            return Rect(x: area.x + margins.left, y: area.y + margins.top, width: max(10, area.width - margins.left - right),
                        height: max(10, area.height - margins.top - margins.bottom))
        }
        let plot = plotRect(outsideLegend: legend == .outsideRight)
        guard !entries.isEmpty && legend != .none else { return (plot, nil) }
        let inset = 8
        func corner(_ c: LegendPlacement, _ r: Rect) -> Rect {
            let w = legendSize.width, h = legendSize.height
            switch c {
            case .topLeft: return Rect(x: r.x + inset, y: r.y + inset, width: w, height: h)
            case .bottomRight: return Rect(x: r.maxX - inset - w, y: r.maxY - inset - h, width: w, height: h)
            case .bottomLeft: return Rect(x: r.x + inset, y: r.maxY - inset - h, width: w, height: h)
            case .outsideRight: return Rect(x: r.maxX + 12, y: r.y, width: w, height: h)
            default: return Rect(x: r.maxX - inset - w, y: r.y + inset, width: w, height: h)
            }
        }
        guard legend == .auto else { return (plot, corner(legend, plot)) }
        let free = [LegendPlacement.topRight, .topLeft, .bottomRight, .bottomLeft].first { c in
            let box = corner(c, plot)
            return box.width <= plot.width - 2 * inset && box.height <= plot.height - 2 * inset
                && !dataTouches(box.insetBy(-3), plot: plot, xr: xr, yr: yr)
        }
        if let c = free { return (plot, corner(c, plot)) }
        let outside = plotRect(outsideLegend: true)
        return (outside, corner(.outsideRight, outside))
    }

    func drawGrid(_ m: Mapping, xTicks: AxisTicks, yTicks: AxisTicks, painter p: inout Painter) {
        let plot = m.plot, yr = m.yr
        let grid = RGBA(228, 228, 228), minor = RGBA(242, 242, 242)
        if logY {
            for v in Ticks.logMinor(min: pow(10, yr.lowerBound), max: pow(10, yr.upperBound)) {
                let y = Int(m.py(log10(v)))
                p.fill(Rect(x: plot.x, y: y, width: plot.width, height: 1), with: minor)
            }
        }
        for v in yTicks.values {
            let y = Int(m.pyValue(v))
            p.fill(Rect(x: plot.x, y: y, width: plot.width, height: 1), with: grid)
        }
        for v in xTicks.values {
            p.fill(Rect(x: Int(m.px(v)), y: plot.y, width: 1, height: plot.height), with: grid)
        }
    }

    /// Lines clipped to the plot; dots may overhang its edge by a few pixels so points at the
    /// ends of the range are drawn whole.
    func drawSeries(_ m: Mapping, painter p: inout Painter) {
        let plot = m.plot, dotClip = plot.insetBy(-5)
        for (i, s) in series.enumerated() {
            let c = color(i)
            var run: [(x: Double, y: Double)] = []
            func flush() {
                if run.count == 1 {
                    p.disc(cx: run[0].x, cy: run[0].y, radius: max(1.5, s.lineWidth), color: c, clip: dotClip)
                } else if run.count > 1 {
                    p.polyline(run, color: c, lineWidth: s.lineWidth, clip: plot)
                }
                run.removeAll()
            }
            for (x, y) in zip(s.x, s.y) {
                if usable(x, y) { run.append((m.px(x), m.pyValue(y))) } else { flush() }
            }
            flush()
            if s.markers {
                for (x, y) in zip(s.x, s.y) where usable(x, y) {
                    p.disc(cx: m.px(x), cy: m.pyValue(y), radius: s.lineWidth + 1.5,
                           color: c, clip: dotClip)
                }
            }
        }
    }

    /// Frame, ticks, tick labels and axis labels.
    func drawAxes(_ m: Mapping, xTicks: AxisTicks, yTicks: AxisTicks, painter p: inout Painter) {
        let plot = m.plot, yr = m.yr, lh = BitmapFont.lineHeight
        let tick = HeatmapPanel.tickLength, gap = HeatmapPanel.tickGap, lgap = HeatmapPanel.labelGap
        p.stroke(plot.insetBy(-1), color: .ink)
        for (v, s) in zip(yTicks.values, yTicks.labels) {
            let y = Int(m.pyValue(v))
            p.fill(Rect(x: plot.x - 1 - tick, y: y, width: tick, height: 1), with: .ink)
            p.text(s, x: plot.x - 1 - tick - gap, y: y, align: .right, valign: .middle)
        }
        if logY {
            for v in Ticks.logMinor(min: pow(10, yr.lowerBound), max: pow(10, yr.upperBound)) {
                p.fill(Rect(x: plot.x - 3, y: Int(m.py(log10(v))), width: 2, height: 1), with: .ink)
            }
        }
        for (v, s) in zip(xTicks.values, xTicks.labels) {
            let x = Int(m.px(v))
            p.fill(Rect(x: x, y: plot.maxY + 1, width: 1, height: tick), with: .ink)
            p.text(s, x: x, y: plot.maxY + 1 + tick + gap, align: .center)
        }
        if let l = xLabel {
            p.text(l, x: plot.x + plot.width / 2, y: plot.maxY + 1 + tick + gap + lh + lgap, align: .center)
        }
        if let l = yLabel {
            p.text(l, x: plot.x - 1 - tick - gap - BitmapFont.maxWidth(yTicks.labels) - lgap, y: plot.y + plot.height / 2,
                   align: .right, valign: .middle, rotated: true)
        }
    }

    func drawLegend(_ box: Rect, entries: [Int], painter p: inout Painter) {
        p.fill(box, with: .white)
        p.stroke(box, color: RGBA(200, 200, 200))
        for (row, i) in entries.enumerated() {
            let cy = box.y + 6 + row * 16 + 7
            let c = color(i)
            p.polyline([(Double(box.x + 8), Double(cy) + 0.5), (Double(box.x + 30), Double(cy) + 0.5)],
                       color: c, lineWidth: series[i].lineWidth)
            if series[i].markers {
                p.disc(cx: Double(box.x + 19), cy: Double(cy) + 0.5,
                       radius: series[i].lineWidth + 1.5, color: c)
            }
            p.text(series[i].name, x: box.x + 36, y: cy, align: .left, valign: .middle)
        }
    }

    /// Whether any drawn line or point of the data passes through `box`.
    func dataTouches(_ box: Rect, plot: Rect, xr: ClosedRange<Double>, yr: ClosedRange<Double>) -> Bool {
        func px(_ x: Double) -> Double {
            Double(plot.x) + (x - xr.lowerBound) / (xr.upperBound - xr.lowerBound) * Double(plot.width - 1) + 0.5
        }
        func py(_ y: Double) -> Double {
            Double(plot.maxY - 1) - (y - yr.lowerBound) / (yr.upperBound - yr.lowerBound) * Double(plot.height - 1) + 0.5
        }
        func inside(_ x: Double, _ y: Double) -> Bool {
            x >= Double(box.x) && x < Double(box.maxX) && y >= Double(box.y) && y < Double(box.maxY)
        }
        for s in series {
            var prev: (Double, Double)?
            for (x, y) in zip(s.x, s.y) {
                guard usable(x, y) else { prev = nil; continue }
                let cur = (px(x), py(logY ? log10(y) : y))
                if inside(cur.0, cur.1) { return true }
                if let a = prev {
                    let len = max(abs(cur.0 - a.0), abs(cur.1 - a.1))
                    let steps = Int(min(4000, len / 2)) + 1
                    for k in 1..<steps + 1 {
                        let t = Double(k) / Double(steps + 1)
                        if inside(a.0 + (cur.0 - a.0) * t, a.1 + (cur.1 - a.1) * t) { return true }
                    }
                }
                prev = cur
            }
        }
        return false
    }
}
