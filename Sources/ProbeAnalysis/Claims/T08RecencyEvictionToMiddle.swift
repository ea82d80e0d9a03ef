import Foundation

/// T8: recency eviction in deep layers hands the mass to the middle.
public struct RecencyToMiddleClaim: Claim {
    public let id = "T8", kind = ClaimKind.paper
    public init() {}
    public var secondaryKeys: [String] { ["value_control", "value_v1_band"] }
    public let sentence = "In deep layers, the attention released by the recency tokens goes mainly to the middle tokens rather than to the sinks."
    public let statistic = "in the last quarter's heads, after question-stage recent-band eviction (lambda 0.1): the middle's share of the mass gained by middle and sink keys, minus the middle's share of their mass before (its pro-rata share), counted over the keys each head still holds; net of the same number from the matched random control (as many keys per head evicted at random in the same layers); sink = each chunk's first S keys as cached (appendix C), middle = the keys between them and the chunk's last S"
    public let threshold = Threshold(value: 0, direction: .above)
    public let minimumEffect = 0.05
    public var manipulationKey: String? { "evicted_per_head" }
    public let confounds = ["within the evicted layer softmax renormalisation is exactly pro-rata: any signal comes from the layers after it",
                     "the literal reading (the middle gets most of the gain) is middle_share_of_gain; the v1 sink band (template and first S content tokens) is value_v1_band",
                     "the question-stage recent band is the last 100 keys of [cache ; question], mostly the question's own tokens",
                     "an example where sink and middle together gain nothing is left out"]

    /// Middle's share of the gain minus its share before; nil when nothing was gained.
    public static func statistic(midBefore: Double, sinkBefore: Double, midAfter: Double, sinkAfter: Double) -> Double? {
        let gm = midAfter - midBefore, gs = sinkAfter - sinkBefore
        guard gm + gs > 1e-9, midBefore + sinkBefore > 0 else { return nil }
        return gm / (gm + gs) - midBefore / (midBefore + sinkBefore)
    }

    /// Mass before and after on the middle and sink bands of every chunk, over the last quarter's heads.
    /// `after` defaults to the rule run; `evicted` ([layer][head] -> keys), when given, leaves
    /// each head's evicted keys out of both sums, so a band's gain is what its survivors gained.
    public static func masses(_ r: EssayRuns, after: KeyTable? = nil, evicted: [[[Int]]] = [],
                       middle: (ChunkBands) -> [Range<Int>], sink: (ChunkBands) -> [Range<Int>]) -> (mb: Double, sb: Double, ma: Double, sa: Double) {
        let a = after ?? r.globalRecentDeep
        var mb = 0.0, sb = 0.0, ma = 0.0, sa = 0.0
        for l in r.layersOf(quarter: 3) { for h in 0..<r.heads {
            let lh = l * r.heads + h
            let gone = l < evicted.count && h < evicted[l].count ? Set(evicted[l][h]) : []
            func sum(_ t: KeyTable, _ range: Range<Int>) -> Double {
                gone.isEmpty ? t.sum(lh, range) : range.reduce(0.0) { gone.contains($1) ? $0 : $0 + t.sum(lh, $1..<($1 + 1)) }
            }
            for b in r.bands {
                for m in middle(b) { mb += sum(r.global, m); ma += sum(a, m) }
                for s in sink(b) { sb += sum(r.global, s); sa += sum(a, s) }
            }
        } }
        return (mb, sb, ma, sa)
    }

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let r = x.essay
        let m = Self.masses(r, middle: { [$0.cachedMiddle] }, sink: { [$0.cachedHead] })
        guard let v = Self.statistic(midBefore: m.mb, sinkBefore: m.sb, midAfter: m.ma, sinkAfter: m.sa) else { return nil }
        let n = Double(r.heads * r.layersOf(quarter: 3).count)
        let gm = m.ma - m.mb, gs = m.sa - m.sb
        var out = ["value_uncontrolled": v, "middle_gain_per_head": gm / n, "sink_gain_per_head": gs / n, "middle_share_of_gain": gm / (gm + gs)]
        let v1 = Self.masses(r, middle: { [$0.middle] }, sink: { [$0.template, $0.contentSink] })
        out["value_v1_band"] = Self.statistic(midBefore: v1.mb, sinkBefore: v1.sb, midAfter: v1.ma, sinkAfter: v1.sa) ?? .nan
        if r.control.globalRecentDeep.keys > 0 {
            let mid: (ChunkBands) -> [Range<Int>] = { [$0.cachedMiddle] }, head: (ChunkBands) -> [Range<Int>] = { [$0.cachedHead] }
            let a = Self.masses(r, evicted: r.evictedKeysRecentDeep, middle: mid, sink: head)
            let c = Self.masses(r, after: r.control.globalRecentDeep, evicted: r.control.evictedKeysRecentDeep, middle: mid, sink: head)
            if let sa = Self.statistic(midBefore: a.mb, sinkBefore: a.sb, midAfter: a.ma, sinkAfter: a.sa),
               let sc = Self.statistic(midBefore: c.mb, sinkBefore: c.sb, midAfter: c.ma, sinkAfter: c.sa) {
                out["value_survivors"] = sa; out["value_control"] = sc; out["value"] = sa - sc
            }
        }
        if !r.evictedRecentDeep.isEmpty { out["evicted_per_head"] = ClaimMath.meanOver(r.evictedRecentDeep, r.headsOf(quarter: 3)) }
        return out
    }
}
