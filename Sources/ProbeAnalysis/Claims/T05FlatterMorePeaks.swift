import Foundation

/// T5: parallel attention is flatter yet has more peaks than normal attention.
public struct FlatterMorePeaksClaim: Claim {
    public let id = "T5", kind = ClaimKind.paper
    public init() {}
    public let sentence = "Compared with normal causal attention over the same input, parallel attention has higher entropy (it is spread out) and more local maxima."
    public let statistic = "the smaller of two shares of heads: higher question-row entropy, and more peaks (5-key moving average of the last 8 question rows' scores over the context > 3x its median), parallel against normal attention over the same content"
    public let threshold = Threshold(value: 0.5, direction: .above)
    public let minimumEffect = 0.05
    public let confounds = ["the parallel cache holds C template copies and the normal one a single template: slightly different key sets",
                     "normal attention runs inside the trained context (the paper's Fig. 1 ran it past 4K on a 4K model)"]

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let r = x.essay
        let ctx = r.bands.last!.span.upperBound, nctx = r.normalContext
        var higher: [Bool?] = [], more: [Bool?] = []
        let hs = r.reaching(allPasses: true)   // v5: normal attention's one long chunk outgrows a window first
        for lh in hs {
            higher.append(ClaimMath.less(r.normalEntropy[lh], r.globalEntropy[lh]))
            let p = ClaimMath.peaks(r.globalLast8.row(lh).prefix(ctx).map(Double.init), k: elevatedRatio)
            let n = ClaimMath.peaks(r.normalLast8.row(lh).prefix(nctx).map(Double.init), k: elevatedRatio)
            more.append(p == n ? nil : p > n)
        }
        let e = ClaimMath.share(higher), m = ClaimMath.share(more)
        return ["value": min(e, m), "share_higher_entropy": e, "share_more_peaks": m, "heads_counted": Double(hs.count)]
    }
}
