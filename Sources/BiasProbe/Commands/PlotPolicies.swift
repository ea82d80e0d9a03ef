import ArgumentParser
import Foundation
import Heatmap
import PCInference

struct PlotPolicies: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policies",
        abstract: "Eviction-lab policies compared: the share of each band's keys and attention mass they keep, by layer depth.",
        discussion: """
        Reads one trace per policy (each written by `biasprobe trace --policy NAME ...`, same input) \
        and draws two heatmaps with one row per trace: the share of each band's keys the policy \
        kept (eviction/policy_kept over eviction/policy_keys), and the share of the band's \
        attention mass those keys held before eviction (eviction/policy_mass over \
        eviction/policy_band_mass), over every prefilled chunk and head, in equal groups of layers. \
        The question's keys are never evicted in a chunk pass and are left out.
        """)

    @OptionGroup var options: PlotOptions
    @Option(help: ArgumentHelp("Traces to compare, comma separated (default: --trace alone).", valueName: "files")) var traces: String?
    @Option(help: "Groups of layers (shallow to deep) per band.") var depthGroups = 3
    @Flag(help: "Do not write values in the cells.") var noValues = false

    func validate() throws {
        if depthGroups < 1 { throw ValidationError("--depth-groups must be at least 1") }
    }

    /// A row label: the policy and its budget, from the trace's configuration.
    static func label(_ t: PlotTrace) -> String {
        guard let lab = t.config?.evictionLab else { return "no policy" }
        let budget = lab.budget.map { "\($0)" } ?? lab.ratio.map { "r\(NumberFormat.compact($0))" } ?? "?"
        return "\(lab.kind.rawValue) \(budget)"
    }

    func run() throws {
        let paths = (traces ?? options.trace).split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        let bands = KeyBand.chunkBands
        var keptShare: [Float] = [], massShare: [Float] = [], labels: [String] = [], layers = 0, context = ""
        var G = depthGroups
        for path in paths {
            let t = try PlotTrace(path: path)
            let L = t.layers, H = t.heads, C = t.chunks, PB = KeyBand.allCases.count
            if layers == 0 { layers = L; context = t.context; G = min(depthGroups, L) }
            guard L == layers else { throw CLIError("\(path) has \(L) layers, \(paths[0]) has \(layers): compare traces of one model") }
            guard t.config?.evictionLab != nil else { throw CLIError("\(path) was traced without --policy: it has no eviction-lab datasets to compare") }
            let keys = try t.reader.ints("eviction/policy_keys")
            let kept = try t.reader.ints("eviction/policy_kept")
            let mass = try t.floats("eviction/policy_mass", shape: [L, H, C, PB]).0
            let band = try t.floats("eviction/policy_band_mass", shape: [L, H, C, PB]).0
            guard keys.count == C * PB, kept.count == L * H * C * PB else { throw CLIError("\(path): eviction/policy_* datasets have unexpected sizes") }
            let at = Shape(L, H, C, PB)
            for b in bands {
                let bi = b.index
                for g in 0..<G {
                    var k = 0.0, n = 0.0, m = 0.0, mb = 0.0
                    for l in (g * L / G)..<((g + 1) * L / G) {
                        for h in 0..<H {
                            for c in 0..<C where keys[c * PB + bi] > 0 {
                                k += Double(kept[at(l, h, c, bi)]); n += Double(keys[c * PB + bi])
                                m += Double(mass[at(l, h, c, bi)]); mb += Double(band[at(l, h, c, bi)])
                            }
                        }
                    }
                    keptShare.append(n > 0 ? Float(k / n) : .nan)
                    massShare.append(mb > 0 ? Float(m / mb) : .nan)
                }
            }
            labels.append(Self.label(t))
        }
        let cols = bands.count * G
        let columns = bands.flatMap { b in (0..<G).map { g in "\(b.rawValue) L\(g * layers / G)-\((g + 1) * layers / G - 1)" } }
        let scale = ColorScale(vmin: 0, vmax: 1)
        let panels = [("share of the band's keys kept", keptShare), ("share of the band's attention mass kept", massShare)].map { title, v in
            HeatmapPanel(values: v, rows: paths.count, cols: cols, title: title, xLabel: "band, layers (shallow to deep)", yLabel: "policy, budget",
                         xTicks: .categories(columns), yTicks: .categories(labels), annotations: noValues ? .none : .values(decimals: 2))
        }
        let grid = PanelGrid(panels: panels, columns: 2, scale: scale, colorBar: ColorBar(label: "share kept"))
        let title = "What each eviction policy keeps, by band and depth: \(context)"
        let subtitle = """
            Rows: one trace per policy (budget in keys per chunk and head, or rN a ratio). Left: kept keys / keys in the band; right: the question rows' attention on the kept keys / on the whole band, before eviction.
            Summed over every chunk pass and head, in \(G) equal groups of layers. The question's own keys are never evicted in a chunk pass (not shown).
            """
        var fig = Figure.grid(grid, title: title)
        fig.subtitle = subtitle
        fig.width = options.width ?? PlotOutput.width(fitting: title, subtitle: subtitle, minimum: 300 + 2 * max(360, 44 * cols))
        fig.height = options.height ?? 260 + max(200, 26 * paths.count) + PlotOutput.subtitleHeight(subtitle)
        try PlotOutput.write(fig, options: options, defaultName: "policies", scale: scale, panelNames: panels.map { $0.title ?? "" })
    }
}
