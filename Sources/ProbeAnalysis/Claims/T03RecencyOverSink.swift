import Foundation

/// T3: in global attention the chunks' tails beat their heads.
public struct RecencyOverSinkClaim: Claim {
    public let id = "T3", kind = ClaimKind.paper
    public init() {}
    public var secondaryKeys: [String] { ["share_content_only", "share_recent_gt_template"] }
    public let sentence = "In global attention, recency is stronger than sink: summed over chunks, A_g puts more mass on the recent tails of the chunks than on their heads."
    public let statistic = "share of heads whose summed mass on the chunks' last S keys exceeds that on their first S keys as cached (appendix C's bands, equal widths, template keys included; official cache)"
    public let threshold = Threshold(value: 0.5, direction: .above)
    public let minimumEffect = 0.05
    public let confounds = ["under the chat layout the first S keys as cached are template copies: share_content_only compares content with content, share_recent_gt_template the template on its own, share_recent_gt_template_and_sink template plus content sink (the v1 reviewer's 0.144)",
                     "the BOS convention decides it: with every chunk's BOS kept the sink grows (share_bos_kept)"]

    /// Share of heads whose recent mass beats their sink mass.
    public static func share(recent: [Double], sink: [Double]) -> Double {
        ClaimMath.share(zip(recent, sink).map { ClaimMath.less($0.1, $0.0) })
    }

    /// Band mass per listed (layer, head).
    public static func sums(_ t: KeyTable, _ bands: [ChunkBands], _ heads: [Int], _ band: (ChunkBands) -> [Range<Int>]) -> [Double] {
        heads.map { lh in bands.reduce(0.0) { acc, b in band(b).reduce(acc) { $0 + t.sum(lh, $1) } } }
    }

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let r = x.essay
        let hs = r.reaching()   // v5: heads whose question rows see both bands
        let all = Array(0..<r.lhCount)
        let recentAll = Self.sums(r.global, r.bands, all) { [$0.tail] }, sinkAll = Self.sums(r.global, r.bands, all) { [$0.cachedHead] }
        let recent = hs.map { recentAll[$0] }, sink = hs.map { sinkAll[$0] }
        var out: [String: Double] = ["value": Self.share(recent: recent, sink: sink), "heads_counted": Double(hs.count),
                                     "value_all_heads": Self.share(recent: recentAll, sink: sinkAll)]
        out["share_content_only"] = Self.share(recent: recent, sink: Self.sums(r.global, r.bands, hs) { [$0.contentSink] })
        // The template as its own band exists only where chunks carry one.
        out["share_recent_gt_template"] = r.bands.allSatisfy { $0.template.isEmpty } ? .nan
            : Self.share(recent: recent, sink: Self.sums(r.global, r.bands, hs) { [$0.template] })
        out["share_recent_gt_template_and_sink"] = Self.share(recent: recent, sink: Self.sums(r.global, r.bands, hs) { [$0.template, $0.contentSink] })
        out["share_bos_kept"] = Self.share(recent: Self.sums(r.kept, r.keptBands, hs) { [$0.tail] },
                                           sink: Self.sums(r.kept, r.keptBands, hs) { [$0.cachedHead] })
        for q in 0..<4 {
            let idx = hs.indices.filter { r.quarter(hs[$0] / r.heads) == q }
            out["quarter\(q + 1)"] = Self.share(recent: idx.map { recent[$0] }, sink: idx.map { sink[$0] })
        }
        return out
    }
}
