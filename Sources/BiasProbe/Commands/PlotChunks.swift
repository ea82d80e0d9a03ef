import ArgumentParser
import Foundation
import Heatmap

struct PlotChunks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chunks",
        abstract: "Chunk scores: the question's NLL given each chunk, kept chunks highlighted, the needle's chunk marked.",
        discussion: """
        ParallelComp scores every chunk by the mean negative log-likelihood of the question tokens \
        after it (input/chunk_nll) and keeps the chunks the trace's configuration selects \
        (input/chunk_kept). A vertical line marks the chunk holding the needle (root attribute \
        needle_chunk), when the trace has one.
        """)

    @OptionGroup var options: PlotOptions

    func run() throws {
        let t = try PlotTrace(path: options.trace)
        let C = t.chunks
        let nll = try t.reader.doubles("input/chunk_nll")
        guard nll.count == C else { throw CLIError("\(t.path): input/chunk_nll has \(nll.count) values, expected \(C) chunks") }
        let finite = nll.filter(\.isFinite)
        guard let lo = finite.min(), let hi = finite.max() else { throw CLIError("\(t.path): input/chunk_nll has no finite score") }
        let pad = max(0.05, (hi - lo) * 0.12)
        let yRange = (lo - pad)...(hi + pad)
        let xs = (0..<C).map(Double.init)

        var list = [Series(name: "question NLL, every chunk", x: xs, y: nll, color: Palette.color(0), lineWidth: 1.5, markers: true)]
        // One series per kept chunk, so kept neighbours are not joined by a line; one legend entry.
        for (n, c) in t.keptIDs.enumerated() {
            list.append(Series(name: n == 0 ? "kept for the question" : "", x: [Double(c)], y: [nll[c]],
                               color: Palette.color(2), lineWidth: 5, markers: true))
        }
        let hasNeedle = t.needleChunk >= 0 && t.needleChunk < C
        if hasNeedle {
            let x = Double(t.needleChunk)
            list.insert(Series(name: "needle in chunk \(t.needleChunk)", x: [x, x], y: [yRange.lowerBound, yRange.upperBound],
                               color: Palette.color(1), lineWidth: 2), at: 0)
        }
        let selection = t.config?.selection == .highestNLL ? "highest" : "lowest"
        let chart = LineChart(series: list, xLabel: "chunk (document order)", yLabel: "question NLL (nats per token)",
                              xRange: -0.5...(Double(C) - 0.5), yRange: yRange, legend: .auto)
        let title = "Chunk scores, question NLL given each chunk: \(t.context)"
        let keptList = t.keptIDs.map(String.init).joined(separator: ", ")
        var subtitle = "Kept: chunks \(keptList.isEmpty ? "none" : keptList), the \(t.keptIDs.count) with the \(selection) NLL of \(C)."
        if hasNeedle {
            // One line each, however the model answered.
            func oneLine(_ s: String) -> String {
                BitmapFont.truncate(s.split(whereSeparator: \.isNewline).joined(separator: " ").trimmingCharacters(in: .whitespaces), maxChars: 40)
            }
            let answer = oneLine(t.reader.string("answer")), expected = oneLine(t.reader.string("expected_answer"))
            subtitle += " The needle is in chunk \(t.needleChunk)" + (t.kept[t.needleChunk] ? " (kept)" : " (not kept)")
            if !expected.isEmpty { subtitle += "; answer \"\(answer)\", expected \"\(expected)\"" }
            subtitle += "."
        } else {
            subtitle += " No needle in this input."
        }
        var fig = Figure.lineChart(chart, title: title)
        fig.subtitle = t.withPipelineNote(subtitle)
        fig.width = options.width ?? PlotOutput.width(fitting: title, subtitle: fig.subtitle, minimum: max(900, min(2400, 40 * C + 200)))
        fig.height = options.height ?? 480 + PlotOutput.subtitleHeight(fig.subtitle)
        try PlotOutput.write(fig, options: options, defaultName: "chunks")
    }
}
