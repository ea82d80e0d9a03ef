import Foundation

/// T8: recency eviction in deep layers hands the mass to the middle.
public struct RecencyToMiddleClaim: Claim {
    public let id = "T8", kind = ClaimKind.paper
    public init() {}
    public let sentence = "In deep layers, the attention released by the recency tokens goes mainly to the middle tokens rather than to the sinks."
    public let statistic = "in the last quarter's heads, after question-stage recent-band eviction (lambda 0.1): the middle's share of the mass gained by middle and sink keys, minus the middle's share of their mass before (its pro-rata share); sink = each chunk's template and first S content tokens"
    public let threshold = Threshold(value: 0, direction: .above)
    public let confounds = ["the question-stage recent band is the last 100 keys of [cache ; question], mostly the question's own tokens",
                     "an example where sink and middle together gain nothing is left out"]

    /// Middle's share of the gain minus its share before; nil when nothing was gained.
    public static func statistic(midBefore: Double, sinkBefore: Double, midAfter: Double, sinkAfter: Double) -> Double? {
        let gm = midAfter - midBefore, gs = sinkAfter - sinkBefore
        guard gm + gs > 1e-9, midBefore + sinkBefore > 0 else { return nil }
        return gm / (gm + gs) - midBefore / (midBefore + sinkBefore)
    }

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let r = x.essay
        var mb = 0.0, sb = 0.0, ma = 0.0, sa = 0.0
        for l in r.layersOf(quarter: 3) { for h in 0..<r.heads {
            let lh = l * r.heads + h
            for b in r.bands {
                mb += r.global.sum(lh, b.middle); ma += r.globalRecentDeep.sum(lh, b.middle)
                sb += r.global.sum(lh, b.template) + r.global.sum(lh, b.contentSink)
                sa += r.globalRecentDeep.sum(lh, b.template) + r.globalRecentDeep.sum(lh, b.contentSink)
            }
        } }
        guard let v = Self.statistic(midBefore: mb, sinkBefore: sb, midAfter: ma, sinkAfter: sa) else { return nil }
        let n = Double(r.heads * r.layersOf(quarter: 3).count)
        return ["value": v, "middle_gain_per_head": (ma - mb) / n, "sink_gain_per_head": (sa - sb) / n]
    }
}
