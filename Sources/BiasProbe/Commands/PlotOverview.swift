import ArgumentParser
import Foundation
import PCInference
import Heatmap

struct PlotOverview: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "overview",
        abstract: "The whole network: layers x heads maps of sink, middle and recent mass, local and global.",
        discussion: """
        A 2 x 3 grid sharing one colour scale. Top row (local): each head's band mass averaged over \
        all chunks, each chunk prefilled alone with the question. Bottom row (global): each head's \
        band mass summed over the kept chunks when the question reads their combined cache, i.e. \
        the share of the question's attention that lands on all kept sinks, middles or recents.
        """)

    @OptionGroup var options: PlotOptions
    @Option(help: "Question rows: all (band_mass) or last (band_mass_last, the last r rows).") var rows: QuestionRows = .all
    @Flag(help: "Logarithmic colour scale (small masses become visible).") var log = false
    @Flag(help: "Do not write values in the cells.") var noValues = false

    func run() throws {
        let t = try PlotTrace(path: options.trace)
        let L = t.layers, H = t.heads, C = t.chunks
        let local = try t.floats("local/band_mass" + rows.suffix, shape: [L, H, C, 3]).0
        let global = try t.floats("global/band_mass" + rows.suffix, shape: [L, H, C, 3]).0
        let lastRows = (try? t.reader.int("last_rows")) ?? 0
        let sink = (try? t.reader.int("sink_width")) ?? 0, recent = (try? t.reader.int("recent_width")) ?? 0
        let kept = t.keptIDs

        var panels: [HeatmapPanel] = [], names: [String] = []
        for stage in ["local", "global"] {
            for (b, band) in PlotNames.bands.enumerated() {
                var v = [Float](repeating: .nan, count: L * H)
                for l in 0..<L {
                    for h in 0..<H {
                        let at = { (c: Int) in Double((stage == "local" ? local : global)[Shape(L, H, C, 3)(l, h, c, b)]) }
                        if stage == "local" {
                            let xs = (0..<C).map(at).filter { !$0.isNaN }
                            if !xs.isEmpty { v[l * H + h] = Float(xs.reduce(0, +) / Double(xs.count)) }
                        } else {
                            let xs = kept.map(at).filter { !$0.isNaN }
                            if !xs.isEmpty { v[l * H + h] = Float(xs.reduce(0, +)) }
                        }
                    }
                }
                let what = stage == "local" ? "\(band), mean over \(C) chunks" : "\(band), sum over \(kept.count) kept"
                panels.append(HeatmapPanel(values: v, rows: L, cols: H, title: "\(stage): \(what)",
                                           xLabel: "head", yLabel: t.mixesLayerKinds ? "layer (G global)" : "layer", xTicks: .indices(),
                                           yTicks: t.mixesLayerKinds ? .categories(t.layerLabels) : .indices(),
                                           annotations: noValues ? .none : .values(decimals: 2)))
                names.append("\(stage) \(band)")
            }
        }
        let scale = massScale(panels.flatMap(\.values), log: log)
        let grid = PanelGrid(panels: panels, columns: 3, scale: scale,
                             colorBar: ColorBar(label: "attention mass" + (log ? " (log)" : "")))
        let title = "Where each band's attention lives, all \(L) layers: \(t.context)"
        let keptText = kept.isEmpty ? "none" : kept.map(String.init).joined(separator: ", ")
        let subtitle = """
            Mean attention mass of \(rows.describe(lastRows: lastRows)) (\(PlotNames.bandDescription(sink: sink, recent: recent))).
            local: each chunk prefilled alone with the question, averaged over chunks; global: question over the kept chunks (\(keptText)), summed over them.
            """ + (t.layerKindLegend.map { "\n" + $0 } ?? "")
        var fig = Figure.grid(grid, title: title)
        fig.subtitle = t.withPipelineNote(subtitle)
        // About 36 px per head column and 15 px per layer row: room for two-decimal values.
        let panelW = max(240, min(480, 36 * H)), panelH = max(200, min(900, 15 * L))
        fig.width = options.width ?? PlotOutput.width(fitting: title, subtitle: fig.subtitle, minimum: 200 + 3 * panelW)
        fig.height = options.height ?? 160 + 2 * panelH + PlotOutput.subtitleHeight(fig.subtitle)
        try PlotOutput.write(fig, options: options, defaultName: "overview", scale: scale, panelNames: names)
    }
}
