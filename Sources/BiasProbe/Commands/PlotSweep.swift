import ArgumentParser
import Foundation
import Heatmap
import PCInference
import ProbeAnalysis

struct PlotSweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "A sweep's results against its parameters: lines for one parameter, a heatmap for two.",
        discussion: """
        With --x only: accuracy per task, the fraction of examples whose needle chunk was kept, and \
        the question's attention mass on the needle (scaled to the sweep's largest, named in the \
        legend) against the parameter, each the mean over the points that share the value. A \
        parameter with non-numeric values (capacity 'off', calibration rules) is drawn as a table \
        of coloured cells instead of lines. With --x and --y: a heatmap of --metric. With neither: \
        one figure per swept parameter, named <out>-<parameter>.png (.svg with --format svg).
        """)

    @Option(help: ArgumentHelp("The sweep file.", valueName: "file")) var sweep = "sweep.h5"
    @Option(name: [.short, .long], help: ArgumentHelp("Figure file to write, ending in .png or .svg as --format says (default: outputs/sweep.png).", valueName: "file")) var out: String?
    @Option(help: ArgumentHelp("png (raster) or svg (vectors, for papers).", valueName: "format")) var format: ImageFormat = .png
    @Option(help: ArgumentHelp("Parameter on the x axis.", valueName: "name")) var x: String?
    @Option(help: ArgumentHelp("Parameter on the y axis (heatmap).", valueName: "name")) var y: String?
    @Option(help: "Heatmap value: accuracy (mean over tasks), \(SweepMetric.stored.map(\.name).joined(separator: ", ")).") var metric = SweepMetric.accuracy
    @Flag(help: "Print each figure's layout as JSON on stdout.") var json = false

    func run() throws {
        if let out {
            try OutputFile.check(out, option: "--out", inputs: [("--sweep", sweep)], createsFolder: true)
            try PlotOutput.checkExtension(out, format: format)
        }
        let res = try SweepResults.read(path: sweep)
        guard !res.points.isEmpty else { throw CLIError("\(sweep) has no finished points yet") }
        let names = res.axes.map(\.parameter.rawValue)
        func axis(_ n: String) throws -> Int {
            guard let i = names.firstIndex(of: n) else { throw ValidationError("'\(n)' is not a parameter of this sweep (it has: \(names.joined(separator: ", ")))") }
            return i
        }
        let ext = "." + format.rawValue
        let base = out ?? "outputs/sweep\(ext)"
        if let x, let y {
            let (xi, yi) = (try axis(x), try axis(y))
            guard xi != yi else { throw ValidationError("--x and --y name the same parameter") }
            try PlotOutput.write(heatmap(res, xi, yi), path: base, format: format, json: json, inputs: [("--sweep", sweep)])
        } else if let x {
            try PlotOutput.write(lines(res, try axis(x)), path: base, format: format, json: json, inputs: [("--sweep", sweep)])
        } else if y != nil {
            throw ValidationError("--y needs --x")
        } else {
            let stem = String(base.dropLast(ext.count))   // checkExtension: base ends in ext
            for i in res.axes.indices {
                try PlotOutput.write(lines(res, i), path: "\(stem)-\(names[i])\(ext)", format: format, json: json, inputs: [("--sweep", sweep)])
            }
        }
    }

    /// The axis's values that occur, in the sweep's order.
    func levels(_ res: SweepResults, _ i: Int) -> [String] {
        let v = res.axes[i].values.map(\.text).filter { v in res.points.contains { $0.values[i] == v } }
        // Numbers in order, so lines do not zig-zag after a grid was extended.
        if v.allSatisfy({ Double($0) != nil }) { return v.sorted { Double($0)! < Double($1)! } }
        return v
    }

    func mean(_ res: SweepResults, _ metric: SweepMetric, where keep: (SweepPointResult) -> Bool) -> Double {
        SweepPointResult.mean(res.points.filter(keep).map { res.metric(metric, $0) })
    }

    func subtitle(_ res: SweepResults, _ shown: [Int]) -> String {
        let others = res.axes.indices.filter { !shown.contains($0) }.map { res.axes[$0].parameter.rawValue }
        let tasks = Set(res.examples.map(\.task.rawValue)).sorted().joined(separator: " + ")
        var s = "\(res.points.count) points, \(res.examples.count) examples each (\(tasks))."
        if !others.isEmpty { s += " Each value is the mean over \(others.joined(separator: ", "))." }
        let full = res.axes.indices.reduce(1) { $0 * levels(res, $1).count }
        let present = Set(res.points.map(\.values)).count
        if present < full { s += "\nGrid incomplete: \(present) of \(full) combinations, so the means cover different sets of points." }
        return s
    }

    func lines(_ res: SweepResults, _ i: Int) throws -> Figure {
        let name = res.axes[i].parameter.rawValue
        let lv = levels(res, i)
        let tasks = Set(res.examples.map(\.task))
        var rows: [(String, [Double])] = []
        for t in [RetrievalTask.passkey, .niah] where tasks.contains(t) {
            rows.append(("\(t.rawValue) accuracy", lv.map { v in mean(res, .taskAccuracy(t)) { $0.values[i] == v } }))
        }
        rows.append(("needle chunk kept", lv.map { v in mean(res, .needleKept) { $0.values[i] == v } }))
        let mass = lv.map { v in mean(res, .needleMass) { $0.values[i] == v } }
        let top = mass.filter(\.isFinite).max() ?? 0
        rows.append((String(format: "needle mass / %.4f", top), mass.map { top > 0 ? $0 / top : .nan }))
        let numeric = lv.compactMap(Double.init)
        let title = "Sweep: retrieval against \(name)"
        var fig: Figure
        if numeric.count == lv.count {
            let series = rows.enumerated().map { k, r in Series(name: r.0, x: numeric, y: r.1, color: Palette.color(k), lineWidth: 2, markers: true) }
            let chart = LineChart(series: series, xLabel: name, yLabel: "fraction (mass: relative to its largest)", yRange: -0.05...1.05, legend: .auto)
            fig = Figure.lineChart(chart, title: title)
        } else {
            // Values that are not numbers: a table of cells, coloured and annotated.
            let vals = rows.flatMap { $0.1 }.map(Float.init)
            var panel = HeatmapPanel(values: vals, rows: rows.count, cols: lv.count, xLabel: name,
                                     xTicks: .categories(lv), yTicks: .categories(rows.map(\.0)), annotations: .values(decimals: 2),
                                     scale: ColorScale(colormap: .viridis, vmin: 0, vmax: 1))
            panel.maxTickLabelChars = 28
            fig = Figure.heatmap(panel, title: title)
        }
        fig.subtitle = subtitle(res, [i])
        fig.width = PlotOutput.width(fitting: title, subtitle: fig.subtitle, minimum: max(900, 140 * lv.count + 300))
        fig.height = 560
        return fig
    }

    func heatmap(_ res: SweepResults, _ xi: Int, _ yi: Int) throws -> Figure {
        let xl = levels(res, xi), yl = levels(res, yi)
        var vals: [Float] = []
        for yv in yl { for xv in xl { vals.append(Float(mean(res, metric) { $0.values[xi] == xv && $0.values[yi] == yv })) } }
        let (xn, yn) = (res.axes[xi].parameter.rawValue, res.axes[yi].parameter.rawValue)
        let bounded = metric.isShare
        let scale = bounded ? ColorScale(colormap: .viridis, vmin: 0, vmax: 1) : ColorScale.fitting(vals.map(Double.init))
        let panel = HeatmapPanel(values: vals, rows: yl.count, cols: xl.count, xLabel: xn, yLabel: yn,
                                 xTicks: .categories(xl), yTicks: .categories(yl), annotations: .compact(significantDigits: 3), scale: scale)
        let title = "Sweep: \(metric.name.replacingOccurrences(of: "_", with: " ")) by \(xn) and \(yn)"
        var fig = Figure.heatmap(panel, colorBar: ColorBar(label: metric.name), title: title)
        fig.subtitle = subtitle(res, [xi, yi])
        fig.width = PlotOutput.width(fitting: title, subtitle: fig.subtitle, minimum: max(700, 110 * xl.count + 360))
        fig.height = max(420, 60 * yl.count + 260)
        return fig
    }
}
