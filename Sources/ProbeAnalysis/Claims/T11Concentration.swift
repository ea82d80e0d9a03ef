import Foundation

/// T11: a testable form of Theorem 3.1.
public struct ConcentrationClaim: Claim {
    public let id = "T11", kind = ClaimKind.reformulation
    public init() {}
    public let sentence = "The number of effective entries per row becomes a smaller fraction of w as the chunk size w grows (Theorem 3.1; its fixed-ε form holds trivially, k ≤ 1/ε, so ε scales as 1/w here)."
    public let statistic = "relative change of the share of a chunk's keys above 1/w in the local question rows, from the small chunks (w_small) to one chunk of all C x w content tokens"
    public let threshold = Threshold(value: -0.1, direction: .below)
    public let confounds = ["a reformulation, not the theorem: the paper states the fixed-threshold form",
                     "the widths are not the same text: the small chunks are the document's first 2 x w_small tokens"]

    /// (large - small) / small.
    public static func relativeChange(small: Double, large: Double) -> Double { small > 0 ? (large - small) / small : .nan }

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let r = x.essay
        // v5: only heads that see every key at every width (a window caps a row's keys, and so
        // its share above 1/w, at the longest width first).
        let hs = r.reaching(allPasses: true)
        func over(_ a: [Double]) -> Double { ClaimMath.mean(hs.compactMap { $0 < a.count ? a[$0] : nil }) }
        let s = over(r.smallAbove), m = over(r.above), l = over(r.normalAbove)
        return ["value": Self.relativeChange(small: s, large: l), "above_1_over_w_small": s, "above_1_over_w_chunk": m, "above_1_over_w_all": l,
                "heads_counted": Double(hs.count),
                "top1pct_mass_small": ClaimMath.mean(r.smallTop1), "top1pct_mass_chunk": ClaimMath.mean(r.top1), "top1pct_mass_all": ClaimMath.mean(r.normalTop1)]
    }
}
