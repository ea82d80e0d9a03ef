import ArgumentParser
import Foundation
import PCInference
import Heatmap

struct PlotProfile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Positional profile of one layer: attention over relative position, chunk after chunk.",
        discussion: """
        x runs over the chunks in document order, chunk c spanning [c, c+1) split into the trace's \
        relative-position bins; y is the attention mass in each bin. Series: local/profile (the \
        question rows, each chunk prefilled alone), global/profile (the question rows over the \
        kept chunks; absent for chunks that were not kept) and local/prefill_profile (the chunk's \
        own rows, when the trace recorded them). Without --head the mean over all heads is shown.
        """)

    @OptionGroup var options: PlotOptions
    @Option(help: "The layer (0-based).") var layer: Int
    @Option(help: "One head (0-based); default: the mean over all heads.") var head: Int?
    @Option(help: ArgumentHelp("Only these chunks: a range FIRST-LAST or a list, e.g. 10-20 or 0,4,7 (default: all).", valueName: "chunks"))
    var chunks: String?
    @Flag(help: "Linear y axis (default: logarithmic, so both the sink peak and the flat middle show).") var linear = false

    func run() throws {
        let t = try PlotTrace(path: options.trace)
        try t.checkLayer(layer)
        if let h = head { try t.checkHead(h) }
        let L = t.layers, H = t.heads, C = t.chunks
        let (local, shape) = try t.floats("local/profile", shape: [L, H, C, nil])
        let B = shape[3]
        guard B > 0 else { throw CLIError("\(t.path): local/profile has no bins") }
        let global = try t.floats("global/profile", shape: [L, H, C, B]).0
        let shown = try chunkSelection(C, path: t.path)
        var prefill: [Float]?
        if (try? t.reader.file.exists("local/prefill_profile")) == true {
            prefill = try t.floats("local/prefill_profile", shape: [L, H, C, B]).0
        }

        // x = c + (b + 0.5) / B; a NaN point between chunks breaks the line at each boundary.
        var xs: [Double] = []
        for c in shown {
            for b in 0..<B { xs.append(Double(c) + (Double(b) + 0.5) / Double(B)) }
            xs.append(.nan)
        }
        func series(_ a: [Float]) -> [Double] {
            var ys: [Double] = []
            let heads = head.map { [$0] } ?? Array(0..<H)
            for c in shown {
                for b in 0..<B {
                    let vals = heads.map { Double(a[Shape(L, H, C, B)(layer, $0, c, b)]) }.filter { !$0.isNaN }
                    ys.append(vals.isEmpty ? .nan : vals.reduce(0, +) / Double(vals.count))
                }
                ys.append(.nan)
            }
            return ys
        }
        var list = [
            Series(name: "local: question rows, chunk alone", x: xs, y: series(local), color: Palette.color(0), lineWidth: 1.5),
            Series(name: "global: question rows, kept chunks", x: xs, y: series(global), color: Palette.color(1), lineWidth: 1.5),
        ]
        if let p = prefill {
            list.append(Series(name: "within chunk: the chunk's own rows", x: xs, y: series(p), color: Palette.color(2), lineWidth: 1.5))
        }
        let kept = t.keptIDs.map(String.init).joined(separator: ", ")
        var xLabel = "chunk, then relative position in the chunk (\(B) bins); kept: \(kept.isEmpty ? "none" : kept)"
        if t.needleChunk >= 0 && t.needleChunk < C { xLabel += "; needle in chunk \(t.needleChunk)" }
        let chart = LineChart(series: list, xLabel: xLabel,
                              yLabel: "attention mass per bin" + (linear ? "" : " (log)"),
                              logY: !linear, xRange: Double(shown.first!)...Double(shown.last! + 1), legend: .auto)
        let who = head.map { "head \($0)" } ?? "mean of \(H) heads"
        let title = "Layer \(layer) (\(t.layerKind(layer).map { $0 + "; " } ?? "")\(who)), attention by relative position: \(t.context)"
        var subtitle = "Mass of each relative-position bin of " + (shown.count == C ? "every chunk" : "chunks \(chunks ?? "")") + ", in document order"
        subtitle += head == nil ? " (averaged over all \(H) heads)." : "."
        if prefill == nil { subtitle += "\nThe within-chunk profile is not in this trace (made with --no-prefill-rows)." }
        var fig = Figure.lineChart(chart, title: title)
        fig.subtitle = t.withPipelineNote(subtitle)
        fig.width = options.width ?? PlotOutput.width(fitting: title, subtitle: fig.subtitle, minimum: max(1000, min(2400, 40 * B * shown.count / 8 + 200)))
        fig.height = options.height ?? 560 + PlotOutput.subtitleHeight(fig.subtitle)
        let name = "profile-layer\(layer)" + (head.map { "-head\($0)" } ?? "") + (shown.count == C ? "" : "-chunks\(shown.first!)-\(shown.last!)")
        try PlotOutput.write(fig, options: options, defaultName: name)
    }

    /// The chunks to draw, sorted: all, or those --chunks names.
    func chunkSelection(_ C: Int, path: String) throws -> [Int] {
        guard let text = chunks?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return Array(0..<C) }
        var ids = Set<Int>()
        for part in text.split(separator: ",") {
            let ends = part.split(separator: "-", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard (1...2).contains(ends.count), let a = ends.first!, let b = ends.last!, a <= b else {
                throw CLIError("--chunks '\(text)' is not a range FIRST-LAST or a list of chunk numbers")
            }
            guard a >= 0, b < C else { throw CLIError("--chunks \(part) is out of range: \(path) has chunks 0...\(C - 1)") }
            ids.formUnion(a...b)
        }
        return ids.sorted()
    }
}
