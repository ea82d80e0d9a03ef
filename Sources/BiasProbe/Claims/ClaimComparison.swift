import Foundation
import PCInference

/// outputs/claims/comparison.md: one row per claim, one column per model folder holding a
/// claims.json, so models can be compared at a glance.
enum ClaimComparison {
    struct Doc: Decodable { var model: String; var settings: ClaimSettings?; var claims: [ClaimOutcome] }

    /// What a column's run was: its example count and chunk width, and whether it used the
    /// smaller `--quick` example sizes (columns of different sizes are not like for like).
    static func describe(_ s: ClaimSettings?) -> String {
        guard let s else { return "—" }
        let quick = s.width == ClaimSettings.quick.width ? " (`--quick` sizes)" : ""
        return "\(s.examples) examples, \(s.width)-token chunks\(quick)"
    }

    static func write(root: String) throws {
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
        md += "| claim | " + docs.map { "[\($0.doc.model)](\($0.folder)/claims.md)" }.joined(separator: " | ") + " |\n"
        md += "|---|" + docs.map { _ in "---|" }.joined() + "\n"
        md += "| run | " + docs.map { describe($0.doc.settings) }.joined(separator: " | ") + " |\n"
        for id in ids {
            let cells = docs.map { d -> String in
                guard let c = d.doc.claims.first(where: { $0.id == id }) else { return "—" }
                return "\(c.verdict.rawValue) \(ClaimReport.num(c.estimate)) [\(ClaimReport.num(c.low)), \(ClaimReport.num(c.high))], n = \(c.examples)"
            }
            md += "| \(id) | " + cells.joined(separator: " | ") + " |\n"
        }
        try md.write(toFile: root + "/comparison.md", atomically: true, encoding: .utf8)
    }
}
