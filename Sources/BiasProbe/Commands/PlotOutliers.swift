import ArgumentParser
import Foundation
import Heatmap

struct PlotOutliers: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outliers",
        abstract: "Outlier keys per layer and head: keys whose mean attention from the last question rows exceeds lambda.",
        discussion: """
        A key is an outlier when its score in global/key_scores (the attention of the last r \
        question rows summed, r = the trace's last_rows), divided by r, exceeds --lambda: the \
        paper's Eq. 6. Context keys (the combined cache of the kept chunks) and the question's \
        own keys are counted in separate panels; calibration can only evict the former.

        key_scores are measured in the global pass itself, so when the trace ran with query-stage \
        calibration they are measured after its evictions. Such traces get two more panels: the \
        outliers calibration found and evicted (eviction/outliers_query, with its own rows and \
        bands), and their sum with the measured count, an estimate of the outliers before calibration.
        """)

    @OptionGroup var options: PlotOptions
    @Option(help: "Threshold on a key's mean attention (default: the trace's calibration lambda, else 0.1).") var lambda: Double?

    func run() throws {
        if let l = lambda, !(l > 0 && l < 1) { throw CLIError("--lambda must be between 0 and 1, got \(l)") }
        let t = try PlotTrace(path: options.trace)
        let L = t.layers, H = t.heads
        let (scores, shape) = try t.floats("global/key_scores", shape: [L, H, nil])
        let K = shape[2]
        let r = try t.reader.int("last_rows")
        guard r > 0 else { throw CLIError("\(t.path): last_rows is \(r)") }
        let lam = lambda ?? t.config.map { Double($0.lambda) } ?? 0.1
        let spans = try t.reader.ints("input/combined_span")
        let S = min(K, max(0, Int(spans.last ?? 0)))

        // Outliers among the context keys [0, S) and among the question's keys [S, K).
        var context = [Float](repeating: 0, count: L * H), question = context
        var keyZero = 0
        for i in 0..<(L * H) {
            let base = i * K
            for k in 0..<K where Double(scores[base + k]) / Double(r) > lam {
                if k < S { context[i] += 1; if k == 0 { keyZero += 1 } } else { question[i] += 1 }
            }
        }
        let evicted = try t.layerHeadInts("eviction/calibration_query")
        let found = try t.layerHeadInts("eviction/outliers_query")
        let calibrated = evicted.contains { $0 != 0 } || found.contains { $0 != 0 }
        let rule = "mean attention of the last \(r) question rows > \(NumberFormat.compact(lam))"

        var panels: [HeatmapPanel] = [], names: [String] = []
        func panel(_ v: [Float], _ title: String, _ name: String) {
            let text = v.map { $0 == 0 ? "" : String(Int($0)) }
            panels.append(HeatmapPanel(values: v, rows: L, cols: H, title: title, xLabel: "head", yLabel: "layer",
                                       annotations: .text(text)))
            names.append(name)
        }
        let contextTotal = Int(context.reduce(0, +))
        var subtitle = "Keys with \(rule) in global/key_scores: \(S) context keys (the kept chunks) and \(K - S) question keys."
        if calibrated {
            let f = found.map(Float.init)
            panel(context, "(1) context: after calibration", "context")
            panel(f, "(2) found and evicted by calibration", "calibration")
            panel(zip(context, f).map { $0 + $1 }, "(3) context: before (estimate)", "before")
            panel(question, "(4) question keys", "question")
            let rows = t.config.map(\.calibrationRows).map { "its last \($0) question row(s)" } ?? "its own rows"
            subtitle += "\n(1) measured in the global pass, i.e. after query-stage calibration evicted \(evicted.reduce(0, +)) keys;"
                + " (2) the outliers calibration found and evicted (eviction/outliers_query: \(rows), its bands and layers);"
            subtitle += "\n(3) = (1) + (2), an estimate of the context outliers before calibration (eviction also renormalises the other keys);"
                + " (4) the question's own keys."
        } else {
            panel(context, "context keys", "context")
            panel(question, "question keys", "question")
            subtitle += "\nNo calibration ran for this trace (eviction/calibration_query is all zero): nothing was evicted."
        }
        if contextTotal > 0 {
            subtitle += "\nKey 0, the first token of the first kept chunk, is \(keyZero) of the \(contextTotal) context outliers counted here."
        }
        let chunkCal = try t.layerHeadInts("eviction/calibration_chunk").reduce(0, +)
        if chunkCal > 0 { subtitle += "\nChunk-stage calibration also evicted \(chunkCal) keys (summed over chunks) before the global pass." }
        let compressed = try t.layerHeadInts("eviction/compression").reduce(0, +)
        if compressed > 0 {
            subtitle += "\nSnapKV compression removed \(compressed) context keys (summed over layers, heads and kept chunks) before the global pass."
        }
        let hi = panels.flatMap(\.values).max() ?? 0
        // Reversed magma: zero is pale, many outliers dark.
        let map = Colormap(name: "magma (reversed)", colors: Colormap.magma.colors.reversed())
        let scale = ColorScale(colormap: map, vmin: 0, vmax: max(1, Double(hi)))
        let grid = PanelGrid(panels: panels, columns: panels.count, scale: scale, colorBar: ColorBar(label: "outlier keys"))
        let title = "Outlier keys per head (lambda \(NumberFormat.compact(lam))), global stage: \(t.context)"
        var fig = Figure.grid(grid, title: title)
        fig.subtitle = t.withPipelineNote(subtitle)
        let panelW = max(240, min(480, 36 * H)), panelH = max(200, min(900, 15 * L))
        fig.width = options.width ?? PlotOutput.width(fitting: title, subtitle: fig.subtitle, minimum: 200 + panels.count * panelW)
        fig.height = options.height ?? 110 + panelH + PlotOutput.subtitleHeight(fig.subtitle)
        try PlotOutput.write(fig, options: options, defaultName: "outliers", scale: scale, panelNames: names)
    }
}
