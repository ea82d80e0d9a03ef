import Foundation

/// Protocol v2's statistics on the per-example numbers of a v1 run (examples.jsonl written
/// before v2): the stored numbers are re-aggregated (Student-t, BCa, minimum effects, clusters,
/// Holm); where v2's statistic is another stored number it is used, and where v2's statistic was
/// never stored the v1 statistic stands, flagged. Nothing is re-run.
public enum ClaimReanalysis {
    /// How a claim's v2 headline comes from a v1 row.
    public enum Source: String, Codable, Sendable {
        case same = "same statistic in v1 and v2"
        case mapped = "v2 statistic read from another stored v1 number"
        case closest = "closest stored form (v2's exact form not stored)"
        case v1Only = "v1 statistic (v2's not stored): v2 statistics on v1's measure"
        case noControl = "net of a matched random control from v3: not measured on rows without one"
    }

    /// v2 key <- v1 key, and the source label, per claim.
    public static let mapping: [String: (from: String?, source: Source)] = [
        "T2": (nil, .v1Only), "T3": ("share_recent_gt_template_and_sink", .closest), "T7": (nil, .v1Only), "T8": (nil, .v1Only),
        "T9": (nil, .v1Only), "T13": ("nll_change_early", .mapped), "T20": ("nll_change_signed", .mapped),
    ]

    public static func source(_ id: String) -> Source {
        controlled.contains(id) ? .noControl : mapping[id]?.source ?? .same
    }

    /// Claims whose v3 headline is net of a matched random control, which rows written before
    /// v3 do not hold: their headline is not measured (the uncontrolled number stays beside it
    /// as `value_uncontrolled`, and any part that reads it is still tested).
    public static let controlled: Set<String> = ["T7", "T8", "T9", "T13", "T14", "T15", "T16", "T13L", "T15L"]

    /// A row written under an earlier protocol with the current headline keys filled in where the
    /// stored numbers allow it.
    public static func upgrade(_ row: ExampleRow) -> ExampleRow {
        var r = row
        for (id, m) in mapping {
            guard let from = m.from, var c = r.claims[id], c["value_uncontrolled"] == nil else { continue }
            c["value_v1"] = c["value"]
            c["value"] = c[from] ?? .nan
            r.claims[id] = c
        }
        for id in controlled {
            guard var c = r.claims[id], c["value_uncontrolled"] == nil else { continue }
            c["value_uncontrolled"] = c["value"] ?? .nan
            c["value"] = .nan
            r.claims[id] = c
        }
        return r
    }

    public static func markdown(rows: [ExampleRow], seed: UInt64, model: String, settings: ClaimSettings, dataFile: String, dataSHA256: String,
                                dataCommit: String?, command: String, v1Verdicts: [String: String] = [:]) -> String {
        let upgraded = rows.map(upgrade)
        let outcomes = ClaimAggregate.outcomes(ClaimCatalog.all, rows: upgraded, seed: seed)
        let report = ClaimReport(model: model, settings: settings, outcomes: outcomes, rows: upgraded, layers: 0, heads: 0)
        var md = """
        # Re-analysis of a v1 claims run under \(ClaimProtocol.line)

        - data: `\(dataFile)` (sha256 \(dataSHA256)), \(rows.count) examples, written under protocol v1 \
        (\(settings.promptLayout.rawValue) layout, \(settings.passkeyHaystacks ? "own haystacks" : "one pass-key filler, 5 depths"))\
        \(dataCommit.map { ", committed in \($0)" } ?? "")
        - command: `\(command)`
        - nothing was re-run: v2's intervals, tests, minimum effects, clusters and Holm on the stored per-example numbers. \
        Where v2's statistic was never stored, the row says which number stands in (last column). No manipulation \
        check is possible (v1 rows do not record evictions per head).


        """
        md += report.table.split(separator: "\n").enumerated().map { i, line -> String in
            if i == 0 { return line + " v1 verdict | source |" }
            if i == 1 { return line + "---|---|" }
            let id = line.split(separator: "*").dropFirst().first.map(String.init) ?? ""
            return line + " \(v1Verdicts[id] ?? "—") | \(source(id).rawValue) |"
        }.joined(separator: "\n") + "\n"
        md += "\n## Per claim\n\n"
        for o in outcomes where o.kind.inFamily {
            let nums = o.numbers.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value.isNaN ? "not measured" : ClaimReport.num($0.value))" }.joined(separator: "; ")
            md += "- **\(o.id)** (\(source(o.id).rawValue)); p holds/fails raw \(ClaimReport.num(o.pHold))/\(ClaimReport.num(o.pFail)), Holm \(ClaimReport.num(o.pHoldAdjusted))/\(ClaimReport.num(o.pFailAdjusted)); \(nums)\n"
        }
        return md
    }
}
