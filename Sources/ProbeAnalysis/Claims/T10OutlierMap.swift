import Foundation

/// T10: keys above lambda sit in particular layers and heads.
public struct OutlierMapClaim: Claim {
    public let id = "T10", kind = ClaimKind.paper
    public init() {}
    public let sentence = "Tokens with scores above λ (the R_H candidates) are concentrated in particular layers and heads."
    public let statistic = "share of all keys scoring above lambda = 0.1 (the last question row's attention over [cache ; question], the official calibration score) that fall in the quarter of heads holding most of them (0.25 if spread evenly)"
    public let threshold = Threshold(value: 0.5, direction: .above)
    public let minimumEffect = 0.05
    public let confounds = ["the paper gives no numbers for Fig. 6: the 0.5 bar is the protocol's, and the map is reported as is (t10_outliers.png)",
                     "a row's probabilities sum to 1, so at most 9 keys can exceed 0.1 in one head"]

    /// Share of the total count held by the top quarter of entries.
    public static func topQuarterShare(_ counts: [Double]) -> Double {
        let total = counts.reduce(0, +)
        guard total > 0 else { return .nan }
        let top = counts.sorted(by: >).prefix(max(1, counts.count / 4))
        return top.reduce(0, +) / total
    }

    public static func counts(_ t: KeyTable, lhCount: Int, above lambda: Float) -> [Double] {
        (0..<lhCount).map { lh in Double(t.row(lh).filter { $0 > lambda }.count) }
    }

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let r = x.essay
        let c1 = Self.counts(r.globalLast, lhCount: r.lhCount, above: 0.1), c3 = Self.counts(r.globalLast, lhCount: r.lhCount, above: 0.3)
        // v5: a windowed head's row spreads over fewer keys, so its outliers are partly its mask.
        let hs = r.reaching()
        var out: [String: Double] = ["value": Self.topQuarterShare(hs.map { c1[$0] }), "heads_counted": Double(hs.count),
                                     "value_all_heads": Self.topQuarterShare(c1), "outliers_per_head_lambda_0.1": ClaimMath.mean(c1),
                                     "outliers_per_head_lambda_0.3": ClaimMath.mean(c3)]
        for q in 0..<4 { out["outliers_per_head_quarter\(q + 1)"] = ClaimMath.mean(r.layersOf(quarter: q).flatMap { l in (0..<r.heads).map { c1[l * r.heads + $0] } }) }
        return out
    }

    public static func maps(_ r: EssayRuns) -> [String: [Double]] {
        ["t10_lambda_0.1": counts(r.globalLast, lhCount: r.lhCount, above: 0.1), "t10_lambda_0.3": counts(r.globalLast, lhCount: r.lhCount, above: 0.3)]
    }
}
