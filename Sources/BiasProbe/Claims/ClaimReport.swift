import Foundation
import Heatmap

/// claims.md, claims.json and the figures, from the outcomes and the per-example rows.
public struct ClaimReport {
    public let model: String
    public let settings: ClaimSettings
    public let outcomes: [ClaimOutcome]
    public let rows: [ExampleRow]
    public let layers: Int, heads: Int

    /// The table `claims` prints and writes: one line per claim, nothing that changes between runs.
    public var table: String {
        var s = "| claim | paper's sentence | statistic (per example) | estimate [95 % CI] | threshold | verdict | n |\n|---|---|---|---|---|---|---|\n"
        for o in outcomes where o.kind != .observation { s += line(o) }
        return s
    }
    public var observationTable: String {
        var s = "| observation | statement | statistic (per example) | estimate [95 % CI] | threshold | verdict | n |\n|---|---|---|---|---|---|---|\n"
        for o in outcomes where o.kind == .observation { s += line(o) }
        return s
    }
    public func line(_ o: ClaimOutcome) -> String {
        let tag = o.kind == .reformulation ? " (reformulation)" : ""
        // A "|" inside a cell (<|begin_of_text|>) would end it.
        func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }
        return "| **\(o.id)**\(tag) | \(cell(o.sentence)) | \(cell(o.statistic)) | \(Self.num(o.estimate)) [\(Self.num(o.low)), \(Self.num(o.high))] | \(o.threshold.text) | **\(o.verdict.rawValue)** | \(o.examples) |\n"
    }
    public static func num(_ v: Double) -> String { v.isFinite ? String(format: "%.3g", v) : (v.isNaN ? "n/a" : (v > 0 ? "inf" : "-inf")) }

    /// A one-line-per-claim summary for the terminal.
    public var terminalSummary: String {
        outcomes.map { o in
            "\(o.id.padding(toLength: 4, withPad: " ", startingAt: 0)) \(o.verdict.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) \(Self.num(o.estimate)) [\(Self.num(o.low)), \(Self.num(o.high))] \(o.threshold.text)  n=\(o.examples)"
        }.joined(separator: "\n")
    }

    public func markdown(seconds: Double, peakRSS: Int) -> String {
        let counts = Dictionary(grouping: outcomes.filter { $0.kind != .observation }, by: \.verdict).mapValues(\.count)
        var md = """
        # Attention-bias claims on \(model)

        Written by `biasprobe claims`. \(rows.count) examples, each a document of C x \(settings.width) tokens cut from the default \
        essays at a seeded offset (C cycling over \(settings.chunkCounts.map(String.init).joined(separator: ", "))), one of \
        \(ClaimSettings.questions.count) questions, plus a \(settings.passkeyTokens)-token pass-key document (\(settings.passkeyChunk)-token \
        chunks, one kept) and a continuation of \(settings.continuationCounts.map(String.init).joined(separator: "/")) chunks x \
        \(settings.continuationWidth) tokens. Official ParallelComp defaults (docs/parallelcomp.md) unless a claim says otherwise; \
        sink and recent bands S = R = \(settings.bandWidth) tokens (2.5 % of a chunk); "elevated" = 3x the uniform share.

        Each statistic is computed per example; the table gives its mean and a 95 % percentile bootstrap interval over \
        examples (2,000 resamples, seed \(settings.seed) mixed with the claim id). A claim **holds** only when the whole \
        interval is on its side of the pre-registered threshold, **fails** only when it is wholly on the other side, and is \
        **inconclusive** otherwise. Same settings, same table: the examples, the runs and the bootstrap are all seeded.

        Verdicts: \(counts[.holds] ?? 0) hold, \(counts[.fails] ?? 0) fail, \(counts[.inconclusive] ?? 0) inconclusive.

        \(table)
        ## Observations (not claims of the paper)

        \(observationTable)
        ## Per claim: known confounds and secondary numbers (means over examples)


        """
        for o in outcomes {
            md += "### \(o.id)\n\n" + o.confounds.map { "- confound: \($0)\n" }.joined()
            let nums = o.numbers.sorted { $0.key < $1.key }.map { "\($0.key) = \(Self.num($0.value))" }.joined(separator: "; ")
            if !nums.isEmpty { md += "- numbers: \(nums)\n" }
            md += "\n"
        }
        md += """
        ## Figures

        ![T10 outliers](t10_outliers.png)

        ![T11 concentration](t11_concentration.png)

        ![T12 decay](t12_decay.png)

        ![T18 NLL against chunks](t18_nll_chunks.png)

        Run: \(Int(seconds)) s wall, peak RSS \(String(format: "%.2f", Double(peakRSS) / 1e9)) GB (timings differ between runs; nothing above does).

        """
        return md
    }

    public func write(to dir: String, seconds: Double, peakRSS: Int) throws {
        try markdown(seconds: seconds, peakRSS: peakRSS).write(toFile: dir + "/claims.md", atomically: true, encoding: .utf8)
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        struct Doc: Encodable { var model: String; var settings: ClaimSettings; var claims: [ClaimOutcome] }
        try enc.encode(Doc(model: model, settings: settings, claims: outcomes)).write(to: URL(fileURLWithPath: dir + "/claims.json"))
        try figures(dir)
    }

    /// Mean over the rows of an array they carry.
    public func meanArray(_ key: String) -> [Double]? {
        let arrays = rows.compactMap { $0.arrays[key] }
        guard let n = arrays.first?.count, n > 0 else { return nil }
        return (0..<n).map { i in ClaimMath.mean(arrays.map { $0[i] }) }
    }

    public func figures(_ dir: String) throws {
        if let m1 = meanArray("t10_lambda_0.1"), let m3 = meanArray("t10_lambda_0.3"), m1.count == layers * heads {
            let grid = PanelGrid(panels: [HeatmapPanel(values: m1.map(Float.init), rows: layers, cols: heads, title: "lambda = 0.1", xLabel: "head", yLabel: "layer"),
                                          HeatmapPanel(values: m3.map(Float.init), rows: layers, cols: heads, title: "lambda = 0.3", xLabel: "head", yLabel: "layer")],
                                 columns: 2)
            try Figure.grid(grid, title: "T10: keys above lambda per head (mean over examples)").write(to: dir + "/t10_outliers.png")
        }
        let t11 = outcomes.first { $0.id == "T11" }?.numbers ?? [:]
        let widths = [Double(settings.smallWidth), Double(settings.width), Double(settings.width) * ClaimMath.mean(rows.map { Double($0.example.chunks) })]
        let above = ["small", "chunk", "all"].map { t11["above_1_over_w_" + $0] ?? .nan }
        let top = ["small", "chunk", "all"].map { t11["top1pct_mass_" + $0] ?? .nan }
        try Figure.lineChart(LineChart(series: [Series(name: "share of keys above 1/w", x: widths, y: above, markers: true),
                                                Series(name: "mass of the top 1% keys", x: widths, y: top, markers: true)],
                                       title: "T11: local concentration vs chunk width (mean over examples)", xLabel: "chunk content tokens w", yLabel: "share / mass"))
            .write(to: dir + "/t11_concentration.png")
        if let p = meanArray("t12_profile"), p.count > 2 {
            try Figure.lineChart(LineChart(series: [Series(name: "mean local attention", x: (1..<p.count).map(Double.init), y: Array(p.dropFirst()))],
                                           title: "T12: local attention vs distance (full-reach rows)",
                                           xLabel: "distance (tokens)", yLabel: "attention", logY: true))
                .write(to: dir + "/t12_decay.png")
        }
        let t18 = outcomes.first { $0.id == "T18" }?.numbers ?? [:]
        let cs = settings.continuationCounts
        try Figure.lineChart(LineChart(series: [Series(name: "NLL of the continuation", x: cs.map(Double.init), y: cs.map { t18["nll_C\($0)"] ?? .nan }, markers: true)],
                                       title: "T18: continuation NLL against chunk count (keep 3)", xLabel: "chunks", yLabel: "nats per token"))
            .write(to: dir + "/t18_nll_chunks.png")
    }
}
