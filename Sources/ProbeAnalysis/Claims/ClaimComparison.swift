import Foundation
import PCInference

/// outputs/claims/comparison.md: one row per claim, one column per model folder holding a
/// claims.json, so models can be compared at a glance.
public enum ClaimComparison {
    public struct Doc: Decodable { var model: String; var settings: ClaimSettings?; var claims: [ClaimOutcome] }

    /// What a column's run was: its example count and chunk width, whether it used the smaller
    /// `--quick` example sizes, its prompt layout and its protocol version (columns that differ
    /// in any of these are not like for like: v1 computed several statistics differently).
    public static func describe(_ s: ClaimSettings?) -> String {
        guard let s else { return "—" }
        let size = s.size.map { $0 == .standard ? "" : " (\($0.rawValue) size)" } ?? " (custom sizes)"
        return "\(s.examples) examples, \(s.width)-token chunks\(size), \(s.promptLayout.rawValue) layout, protocol v\(s.protocolVersion)"
    }

    /// Paired differences between every two runs that drew the same configurations (same seed,
    /// sizes, protocol): models against each other, and a model's two prompt layouts.
    public static func differences(root: String, docs: [(folder: String, doc: Doc)]) -> String {
        var runs: [(folder: String, settings: ClaimSettings, rows: [ExampleRow])] = []
        for d in docs {
            guard let s = d.doc.settings, let text = try? String(contentsOfFile: root + "/" + d.folder + "/examples.jsonl", encoding: .utf8) else { continue }
            let rows = text.split(separator: "\n").compactMap { try? ClaimSession.parse(String($0)) }
            if !rows.isEmpty { runs.append((d.folder, s, rows)) }
        }
        var md = "", unpaired: [String] = []
        for i in runs.indices { for j in runs.indices where j > i {
            let a = runs[i], b = runs[j]
            let head = "\n## Paired difference: \(a.folder) − \(b.folder)\n\n"
            if let why = ClaimDifference.incompatibility(a.settings, b.settings) {
                unpaired.append("\(a.folder) − \(b.folder) (\(why))")
                continue
            }
            md += head + "Example i of one run is example i of the other (same seed and sizes: same chunk counts, questions, "
                + "pass-key placements and digits; the text is each model's own tokens of the same essays). The difference of "
                + "the claim's per-unit statistic, with the protocol's intervals; no verdict.\n\n"
                + ClaimDifference.markdown(aName: a.folder, bName: b.folder,
                                           rows: ClaimDifference.rows(ClaimCatalog.all, a: a.rows, b: b.rows, seed: a.settings.seed))
        } }
        // One line for the pairs that draw different configurations, not a section each.
        if !unpaired.isEmpty { md += "\n## Not paired\n\n" + unpaired.joined(separator: "; ") + ".\n" }
        return md
    }

    public static func write(root: String) throws {
        let fm = FileManager.default
        let folders = ((try? fm.contentsOfDirectory(atPath: root)) ?? []).sorted()
        let dec = JSONCoding.decoder()
        var docs: [(folder: String, doc: Doc)] = []
        for f in folders {
            guard let data = fm.contents(atPath: root + "/" + f + "/claims.json"), let d = try? dec.decode(Doc.self, from: data) else { continue }
            docs.append((f, d))
        }
        guard !docs.isEmpty else { return }
        var ids: [String] = []
        for d in docs { for c in d.doc.claims where !ids.contains(c.id) { ids.append(c.id) } }
        var md = "# Claims by model\n\nWritten by `biasprobe claims` from every `*/claims.json` here: verdict, estimate [95 % interval], examples.\n\n"
        let versions = Set(docs.map { $0.doc.settings?.protocolVersion ?? "1" })
        let families = Set(versions.map(ClaimProtocol.statisticsFamily))
        if families.count == 1 && versions.count > 1 {
            md += "Protocol versions \(versions.sorted().map { "v" + $0 }.joined(separator: ", ")) share every statistic "
                + "(docs/claims-protocol.md, History: a later version only added a run size), so their columns compare.\n\n"
        } else if versions.count > 1 {
            md += "**Mixed protocol versions** (\(versions.sorted().map { "v" + $0 }.joined(separator: ", "))): a statistic may be computed "
                + "differently from one version to the next (docs/claims-protocol.md, History), so compare a claim across columns "
                + "of one version only; the `run` row names each column's version and prompt layout.\n\n"
        }
        md += "| claim | " + docs.map { "[\($0.doc.model)](\($0.folder)/claims.md) (`\($0.folder)`)" }.joined(separator: " | ") + " |\n"
        md += "|---|" + docs.map { _ in "---|" }.joined() + "\n"
        md += "| run | " + docs.map { describe($0.doc.settings) }.joined(separator: " | ") + " |\n"
        for id in ids {
            let cells = docs.map { d -> String in
                guard let c = d.doc.claims.first(where: { $0.id == id }) else { return "—" }
                return "\(c.verdict.rawValue) \(ClaimReport.num(c.estimate)) [\(ClaimReport.num(c.low)), \(ClaimReport.num(c.high))], n = \(c.examples)"
            }
            md += "| \(id) | " + cells.joined(separator: " | ") + " |\n"
        }
        md += differences(root: root, docs: docs)
        try md.write(toFile: root + "/comparison.md", atomically: true, encoding: .utf8)
    }
}
