import Foundation

/// T4: global attention weakens within-chunk recency.
public struct WeakerRecencyClaim: Claim {
    public let id = "T4", kind = ClaimKind.paper
    public init() {}
    public let sentence = "Parallel (global) attention weakens within-chunk recency compared with local attention."
    public let statistic = "share of (head, chunk) whose recent fraction (mass on the last S content tokens over the mass on the chunk's content tokens) is lower in the question's global attention than in its local attention over that chunk; both denominators are the same content keys (ties count half)"
    public let threshold = Threshold(value: 0.5, direction: .above)
    public let minimumEffect = 0.05
    public let confounds = ["matched denominators: a chunk's template and BOS are left out of both fractions, since only chunk 1 keeps its BOS in the global cache (the unmatched form, share_unmatched, is the old confounded statistic)",
                     "local rows are the chunk pass's question rows, global rows the question prefill's: the same question tokens, at other positions"]

    /// Share of pairs whose global fraction is below the local one.
    public static func matchedShare(local: [Double], global: [Double]) -> Double {
        ClaimMath.share(zip(global, local).map { ClaimMath.less($0.0, $0.1) })
    }

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let r = x.essay
        let lb = r.localBands[0]
        var fl: [Double] = [], fg: [Double] = [], ul: [Double] = [], ug: [Double] = []
        let hs = r.reaching()   // v5: the chunk pass's question rows sit no later than the global pass's
        for lh in hs {
            for (c, gb) in r.bands.enumerated() {
                let lc = r.local[c].sum(lh, lb.content), gc = r.global.sum(lh, gb.content)
                guard lc > 0, gc > 0 else { continue }
                fl.append(r.local[c].sum(lh, lb.tail) / lc); fg.append(r.global.sum(lh, gb.tail) / gc)
                ul.append(r.local[c].sum(lh, lb.tail) / r.local[c].sum(lh, lb.span)); ug.append(r.global.sum(lh, gb.tail) / r.global.sum(lh, gb.span))
            }
        }
        return ["value": Self.matchedShare(local: fl, global: fg), "share_unmatched": Self.matchedShare(local: ul, global: ug),
                "mean_recent_fraction_local": ClaimMath.mean(fl), "mean_recent_fraction_global": ClaimMath.mean(fg), "heads_counted": Double(hs.count)]
    }
}
