import Foundation
import PCInference
import Heatmap

/// claims.md, claims.json and the figures, from the outcomes and the per-example rows.
public struct ClaimReport {
    public let model: String
    public let settings: ClaimSettings
    public let outcomes: [ClaimOutcome]
    public let rows: [ExampleRow]
    public let layers: Int, heads: Int
    /// The model's sliding window and how many layers use it (nil: every layer is global), for
    /// the caveat a run whose chunks outgrow the window needs.
    public var slidingWindow: Int?, slidingLayers = 0
    public init(model: String, settings: ClaimSettings, outcomes: [ClaimOutcome], rows: [ExampleRow], layers: Int, heads: Int) {
        self.model = model; self.settings = settings; self.outcomes = outcomes; self.rows = rows; self.layers = layers; self.heads = heads
    }

    /// The table `claims` prints and writes: one line per claim, nothing that changes between runs.
    public var table: String {
        var s = "| claim | effect [95 % Student-t] | BCa 95 % | test | units (examples) | evicted / head | secondary (means) | raw | Holm |\n|---|---|---|---|---|---|---|---|---|\n"
        for o in outcomes where o.kind.inFamily { s += line(o) }
        return s
    }
    public var observationTable: String {
        var s = "| observation / sensitivity row | effect [95 % Student-t] | BCa 95 % | test | units (examples) | evicted / head | secondary (means) | raw | Holm |\n|---|---|---|---|---|---|---|---|---|\n"
        for o in outcomes where !o.kind.inFamily { s += line(o) }
        return s
    }
    /// Interval text of one part.
    public static func interval(_ i: MeanInterval) -> String {
        i.low.isFinite || i.low.isNaN ? "\(num(i.mean)) [\(num(i.low)), \(num(i.high))]" : "\(num(i.mean)) (no interval: \(i.n) < \(MeanInterval.minimumUnits) units)"
    }

    public func line(_ o: ClaimOutcome) -> String {
        let tag = o.kind == .reformulation ? " (reformulation)" : o.kind == .assumption ? " (assumption of Thm A.1)" : ""
        let effects = o.parts.map { ($0.key == "value" ? "" : $0.key + ": ") + Self.interval($0.interval) }.joined(separator: "; ")
        let bca = o.parts.map { $0.interval.bcaLow.isInfinite ? "—" : "[\(Self.num($0.interval.bcaLow)), \(Self.num($0.interval.bcaHigh))]" }.joined(separator: "; ")
        let tests = o.parts.map { ($0.key == "value" ? "" : $0.key + " ") + $0.test.text }.joined(separator: " and ")
        let ev = o.evictedPerHead.map { Self.num($0) } ?? "—"
        let secondary = ClaimCatalog.all.first { $0.id == o.id }.map { ["value_uncontrolled"] + $0.secondaryKeys } ?? ["value_uncontrolled"]
        let sec = secondary.compactMap { k in o.numbers[k].map { "\(k) \(Self.num($0))" } }.joined(separator: "; ")
        return "| **\(o.id)**\(tag) | \(effects) | \(bca) | \(Self.cell(tests)) | \(o.units) (\(o.examples)) | \(ev) | \(sec.isEmpty ? "—" : sec) | **\(o.verdict.rawValue)** | **\(o.adjustedVerdict.rawValue)** |\n"
    }
    /// A "|" inside a cell (<|begin_of_text|>) would end it.
    public static func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }
    public static func num(_ v: Double) -> String { v.isFinite ? String(format: "%.3g", v) : (v.isNaN ? "n/a" : (v > 0 ? "inf" : "-inf")) }

    /// A one-line-per-claim summary for the terminal.
    public var terminalSummary: String {
        outcomes.map { o in
            "\(o.id.padding(toLength: 4, withPad: " ", startingAt: 0)) \(o.verdict.rawValue.padding(toLength: 15, withPad: " ", startingAt: 0)) Holm \(o.adjustedVerdict.rawValue.padding(toLength: 15, withPad: " ", startingAt: 0)) \(Self.num(o.estimate)) [\(Self.num(o.low)), \(Self.num(o.high))] \(o.parts.first?.test.text ?? o.threshold.text)  units=\(o.units)"
        }.joined(separator: "\n")
    }

    /// True when the question (first position: the longest chunk's length, BOS included) cannot
    /// reach any key of a chunk's sink band in a sliding-window layer: a key is visible from
    /// position p iff its position is above p - window.
    public var sinkBandUnreachable: Bool {
        guard let w = slidingWindow, slidingLayers > 0 else { return false }
        return settings.bandWidth - 1 <= settings.width + 1 - w
    }

    /// A sentence for "cannot speak to" when a sliding window cuts rows off from keys they are read over.
    var windowCaveat: String {
        // v5 rows say how many heads each band or concentration statistic counted.
        let partial = ["T1", "T2", "T3", "T4", "T5", "T10", "T11"].compactMap { id -> String? in
            let c = rows.compactMap { $0.claims[id]?["heads_counted"] }.filter(\.isFinite)
            guard !c.isEmpty, ClaimMath.mean(c) < Double(layers * heads) else { return nil }
            return "\(id) \(ClaimReport.num(ClaimMath.mean(c)))"
        }
        if !partial.isEmpty {
            let w = slidingWindow.map { "this model's \($0)-position sliding window" } ?? "a sliding window"
            let allHeads = partial.contains { $0.hasPrefix("T3 ") || $0.hasPrefix("T10 ") }
                ? " T3's and T10's `value_all_heads` is the v4 statistic over every head, in which each windowed head counts as \"recent beats sink\" by its mask." : ""
            return " **Some statistics read query rows that \(w) cuts off from a chunk's first keys"
                + (sinkBandUnreachable ? " (at \(settings.width)-token chunks the question cannot reach any chunk's first \(settings.bandWidth) keys in those layers)" : "")
                + ". Under protocol v5 they count only the heads that see every key: "
                + partial.joined(separator: ", ") + " of \(layers * heads) heads per example (`heads_counted`; T5 and T11 also read normal "
                + "attention, one chunk of all the content, which outgrows a window first)." + allHeads + "**"
        }
        // Rows before v5 counted every head.
        guard sinkBandUnreachable, let w = slidingWindow else { return "" }
        return " **Chunks of \(settings.width) tokens outgrow this model's \(w)-position sliding window in \(slidingLayers) of its \(layers) "
            + "layers: there the question cannot reach any chunk's first \(settings.bandWidth) keys, so every such head counts as "
            + "\"recent beats sink\" by construction, and the band and concentration rows (T1-T5, T10, T11) mix reachable and "
            + "unreachable keys. Read those rows at a size whose chunks fit the window (docs/claims.md, \"Sliding windows\").**"
    }

    public func markdown(seconds: Double, peakRSS: Int) -> String {
        let counted = outcomes.filter { $0.kind == .paper || $0.kind == .reformulation }
        func count(_ v: [Verdict]) -> String {
            let c = Dictionary(grouping: v, by: { $0 }).mapValues(\.count)
            return [Verdict.holds, .fails, .inconclusive, .noManipulation, .notMeasured].map { "\(c[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ")
        }
        var md = """
        # Attention-bias claims on \(model), at these sizes

        \(rows.count < settings.examples ? "**Interim report: \(rows.count) of the \(settings.examples) examples of this run are done** (examples \(rows.map { String($0.example.index) }.joined(separator: ", "))); the run resumes, and every number below will change when it completes.\n\n" : "")Written by `biasprobe claims` under \(ClaimProtocol.line). Every verdict below is about \
        this model at these sizes (chunks of \(settings.width) tokens, far below the paper's 3.6-7.6K; lambda 0.1 unscaled), \
        not about the paper's 7-8B models. \(rows.count) examples, each a document of C x \(settings.width) tokens cut from the \
        default essays at a seeded offset (C cycling over \(settings.chunkCounts.map(String.init).joined(separator: ", "))), one of \
        \(ClaimSettings.questions.count) questions, plus a \(settings.passkeyTokens)-token pass-key document (\(settings.passkeyChunk)-token \
        chunks, one kept; \(settings.passkeyHaystacks ? "each example its own essay haystack and placement" : "one noise filler, five depths")) \
        and a continuation of \(settings.continuationCounts.map(String.init).joined(separator: "/")) chunks x \
        \(settings.continuationWidth) tokens. Prompt layout: **\(settings.promptLayout.rawValue)**. Official ParallelComp defaults \
        (docs/parallelcomp.md) unless a claim says otherwise; bands S = R = \(settings.bandWidth) keys (2.5 % of a chunk), \
        appendix C's: a chunk's first S keys as cached (template keys included) and its last S.

        Effects first: each claim's per-example statistic, its mean over the units (examples, or configurations where \
        examples repeat one) with a 95 % Student-t interval (the headline) and a BCa bootstrap interval beside it \
        (2,000 resamples, seeded). Tests are one-sided at 2.5 % (what the interval shows): a claim **holds** when \
        the effect is significantly beyond its threshold and its estimate reaches the minimum effect, **fails** when the \
        interval lies wholly short of threshold + minimum effect (or, for "no change" and "a change" claims, outside or \
        inside the equivalence margin), and is **inconclusive** otherwise. An intervention that evicted fewer than \
        \(ClaimReport.num(ClaimProtocol.minimumEvictedPerHead)) key per intervened head and pass is **no manipulation**; \
        a statistic with no finite value is **not measured**. Holm's correction runs across the claims (observations \
        excluded); a raw verdict that does not survive it is inconclusive in the Holm column.

        Paper claims and reformulations: raw \(count(counted.map(\.verdict))); after Holm \(count(counted.map(\.adjustedVerdict))). \
        T12 tests an assumption of the paper's theorem, not a claim of the paper; O1 and O2 are observations; neither is counted. \
        Every eviction claim's effect is net of its matched random control (the same run with as many keys per head and pass \
        evicted at random); the uncontrolled number is in the secondary column as `value_uncontrolled`. Every pass-key run \
        keeps the needle's chunk, so eviction is measured apart from chunk selection (T17 tests the selection).

        What these runs cannot speak to: chunks of \(settings.width) tokens against the paper's 3.6-7.6K (bands of \
        \(settings.bandWidth) keys against its 100), so lambda = 0.1 selects about one key per head (the T13L/T15L rows \
        scale it); a \(model) model, not the paper's 7-8B LLaMA models; NLL where the paper reports task scores; \
        synthetic few-shot and pass-key tasks standing for LongBench and InfiniteBench.\(windowCaveat)

        \(table)
        ## Observations and sensitivity rows (outside the counts and Holm)

        O1 and O2 are not claims of the paper. T13L and T15L re-run T13 and T15 with lambda scaled to the chunk \
        (lambda x \(settings.passkeyChunk) / 3,600, the paper's 0.1 against its ~3.6K-token chunks), where lambda = 0.1 \
        selects almost nothing at these chunk sizes.

        \(observationTable)
        ## Per claim: the paper's sentence, the statistic, confounds, secondary numbers (means over examples)


        """
        for o in outcomes {
            md += "### \(o.id)\n\n- paper: \(Self.cell(o.sentence))\n- statistic: \(o.statistic)\n"
            md += o.confounds.map { "- confound: \($0)\n" }.joined()
            md += String(format: "- p (holds / fails): raw %@ / %@, Holm %@ / %@\n", Self.num(o.pHold), Self.num(o.pFail), Self.num(o.pHoldAdjusted), Self.num(o.pFailAdjusted))
            let nums = o.numbers.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value.isNaN ? "not measured" : Self.num($0.value))" }.joined(separator: "; ")
            if !nums.isEmpty { md += "- numbers: \(nums)\n" }
            md += "\n"
        }
        md += """
        ## Figures

        ![T10 outliers](t10_outliers.png)

        ![T11 concentration](t11_concentration.png)

        ![T12 decay](t12_decay.png)

        ![T18 NLL against chunks](t18_nll_chunks.png)

        Each figure is also written as SVG beside its PNG (same name), with text and lines as vectors.

        Run: \(Int(seconds)) s wall, peak RSS \(String(format: "%.2f", Double(peakRSS) / 1e9)) GB (timings differ between runs; nothing above does).

        """
        return md
    }

    public func write(to dir: String, seconds: Double, peakRSS: Int) throws {
        try markdown(seconds: seconds, peakRSS: peakRSS).write(toFile: dir + "/claims.md", atomically: true, encoding: .utf8)
        let enc = JSONCoding.encoder(pretty: true)
        struct Doc: Encodable { var model: String; var protocolVersion: String; var protocolSHA256: String; var settings: ClaimSettings; var claims: [ClaimOutcome] }
        try enc.encode(Doc(model: model, protocolVersion: ClaimProtocol.version, protocolSHA256: ClaimProtocol.sha256, settings: settings, claims: outcomes)).write(to: URL(fileURLWithPath: dir + "/claims.json"))
        try figures(dir)
    }

    /// Mean over the rows of an array they carry.
    public func meanArray(_ key: String) -> [Double]? {
        let arrays = rows.compactMap { $0.arrays[key] }
        guard let n = arrays.first?.count, n > 0 else { return nil }
        return (0..<n).map { i in ClaimMath.mean(arrays.map { $0[i] }) }
    }

    /// Writes every figure as `<name>.png` and, for papers, as vectors in `<name>.svg`.
    public func figures(_ dir: String) throws {
        func save(_ figure: Figure, _ name: String) throws {
            let drawing = figure.draw().drawing   // one layout, both files
            for format in ImageFormat.allCases { try drawing.write(to: dir + "/\(name).\(format.rawValue)", format: format) }
        }
        if let m1 = meanArray("t10_lambda_0.1"), let m3 = meanArray("t10_lambda_0.3"), m1.count == layers * heads {
            let grid = PanelGrid(panels: [HeatmapPanel(values: m1.map(Float.init), rows: layers, cols: heads, title: "lambda = 0.1", xLabel: "head", yLabel: "layer"),
                                          HeatmapPanel(values: m3.map(Float.init), rows: layers, cols: heads, title: "lambda = 0.3", xLabel: "head", yLabel: "layer")],
                                 columns: 2)
            try save(Figure.grid(grid, title: "T10: keys above lambda per head (mean over examples)"), "t10_outliers")
        }
        let t11 = outcomes.first { $0.id == "T11" }?.numbers ?? [:]
        let widths = [Double(settings.smallWidth), Double(settings.width), Double(settings.width) * ClaimMath.mean(rows.map { Double($0.example.chunks) })]
        let above = ["small", "chunk", "all"].map { t11["above_1_over_w_" + $0] ?? .nan }
        let top = ["small", "chunk", "all"].map { t11["top1pct_mass_" + $0] ?? .nan }
        try save(Figure.lineChart(LineChart(series: [Series(name: "share of keys above 1/w", x: widths, y: above, markers: true),
                                                Series(name: "mass of the top 1% keys", x: widths, y: top, markers: true)],
                                       title: "T11: local concentration vs chunk width (mean over examples)", xLabel: "chunk content tokens w", yLabel: "share / mass")),
                 "t11_concentration")
        if let p = meanArray("t12_profile"), p.count > 2 {
            try save(Figure.lineChart(LineChart(series: [Series(name: "mean local attention", x: (1..<p.count).map(Double.init), y: Array(p.dropFirst()))],
                                           title: "T12: local attention vs distance (full-reach rows)",
                                           xLabel: "distance (tokens)", yLabel: "attention", logY: true)),
                     "t12_decay")
        }
        let t18 = outcomes.first { $0.id == "T18" }?.numbers ?? [:]
        let cs = settings.continuationCounts
        try save(Figure.lineChart(LineChart(series: [Series(name: "NLL of the continuation", x: cs.map(Double.init), y: cs.map { t18["nll_C\($0)"] ?? .nan }, markers: true)],
                                       title: "T18: continuation NLL against chunk count (keep 3)", xLabel: "chunks", yLabel: "nats per token")),
                 "t18_nll_chunks")
    }
}
