import ArgumentParser
import Foundation
import PCInference
import Heatmap

/// Which question rows a band-mass figure averages.
enum QuestionRows: String, ExpressibleByArgument, CaseIterable {
    case all, last
    /// The dataset suffix: band_mass or band_mass_last.
    var suffix: String { self == .all ? "" : "_last" }
    func describe(lastRows: Int) -> String { self == .all ? "all question rows" : "the last \(lastRows) question rows" }
}

struct PlotLayer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "layer",
        abstract: "One layer: heads x chunks maps of sink, middle and recent mass, local and global.",
        discussion: """
        A 2 x 3 grid sharing one colour scale: rows are the stages (local/band_mass: each chunk \
        prefilled alone with the question; global/band_mass: the question over the kept chunks), \
        columns the bands. Each cell is the mean attention mass of the question rows of one head \
        on one chunk's band. Chunk labels mark kept chunks with * and the needle's chunk with N; \
        global cells of chunks that were not kept are grey (NaN).
        """)

    @OptionGroup var options: PlotOptions
    @Argument(help: "The layer (0-based).") var layer: Int
    @Option(help: "Question rows: all (band_mass) or last (band_mass_last, the last r rows).") var rows: QuestionRows = .all
    @Flag(help: "Logarithmic colour scale (small masses become visible).") var log = false
    @Flag(help: "Do not write values in the cells.") var noValues = false

    func run() throws {
        let t = try PlotTrace(path: options.trace)
        try t.checkLayer(layer)
        let L = t.layers, H = t.heads, C = t.chunks
        let local = try t.floats("local/band_mass" + rows.suffix, shape: [L, H, C, 3]).0
        let global = try t.floats("global/band_mass" + rows.suffix, shape: [L, H, C, 3]).0
        let lastRows = (try? t.reader.int("last_rows")) ?? 0
        let sink = (try? t.reader.int("sink_width")) ?? 0, recent = (try? t.reader.int("recent_width")) ?? 0

        func slice(_ a: [Float], band: Int) -> [Float] {
            var v = [Float](repeating: .nan, count: H * C)
            for h in 0..<H { for c in 0..<C { v[h * C + c] = a[Shape(L, H, C, 3)(layer, h, c, band)] } }
            return v
        }
        var panels: [HeatmapPanel] = [], names: [String] = []
        for (stage, data) in [("local", local), ("global", global)] {
            for (b, band) in PlotNames.bands.enumerated() {
                let v = slice(data, band: b)
                panels.append(HeatmapPanel(values: v, rows: H, cols: C, title: "\(stage): \(band) mass",
                                           xLabel: t.chunkLegend, yLabel: "head",
                                           xTicks: .categories(t.chunkLabels), yTicks: .indices(),
                                           annotations: noValues ? .none : .values(decimals: 2)))
                names.append("\(stage) \(band)")
            }
        }
        let scale = massScale(panels.flatMap(\.values), log: log)
        let grid = PanelGrid(panels: panels, columns: 3, scale: scale,
                             colorBar: ColorBar(label: "attention mass" + (log ? " (log)" : "")))
        let title = "Layer \(layer)\(t.layerKind(layer).map { " (\($0))" } ?? "") attention bands per head and chunk: \(t.context)"
        let subtitle = """
            Mean attention mass of \(rows.describe(lastRows: lastRows)) on each chunk's bands (\(PlotNames.bandDescription(sink: sink, recent: recent))).
            local: chunk prefilled alone with the question; global: question over the kept chunks (grey: chunk not kept).
            """
        var fig = Figure.grid(grid, title: title)
        fig.subtitle = t.withPipelineNote(subtitle)
        // Each panel gets about 40 px per chunk column and 30 px per head row.
        let panelW = C <= 13 ? max(260, 40 * C) : max(520, min(1100, 16 * C)), panelH = max(200, min(520, 30 * H))
        fig.width = options.width ?? PlotOutput.width(fitting: title, subtitle: fig.subtitle, minimum: 200 + 3 * panelW)
        fig.height = options.height ?? 150 + 2 * panelH + PlotOutput.subtitleHeight(fig.subtitle)
        try PlotOutput.write(fig, options: options, defaultName: "layer\(layer)", scale: scale, panelNames: names)
    }
}
