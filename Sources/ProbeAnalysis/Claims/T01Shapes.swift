import Foundation

/// T1: the three shapes coexist under parallel attention.
public struct ThreeShapesClaim: Claim {
    public let id = "T1", kind = ClaimKind.paper
    public init() {}
    public let sentence = "Under parallel attention, heads fall into U-shape (sink + recency), Mountain-shape (middle bias) and Uniform shape."
    public let statistic = "per head, global attention of the question over the chunks (renormalised to them) labelled U (sink and recent bands > 3x their uniform share), mountain (neither, but a middle bin of w/16 keys > 3x), uniform (no band and no bin > 3x: the paper's flat panel), or sink-only / recent-only; per example the smallest of the U, mountain and uniform shares"
    public let threshold = Threshold(value: 0.05, direction: .above)
    public let confounds = ["the sink band is the chunk's first S keys as cached (appendix C), which with a chat template are template keys, identical in every chunk",
                     "the 3x ratio and the 5 % share are the protocol's presets (paper-claims 7.1), not the paper's: it shows single hand-picked heads"]

    public enum Shape: String, CaseIterable { case u, sink, recent, mountain, uniform }

    /// Label of one head from its mass on the sink band, recent band and the middle bins, each
    /// with its uniform share (the band's key count over all context keys).
    public static func label(sink: Double, sinkShare: Double, recent: Double, recentShare: Double, bins: [(mass: Double, share: Double)]) -> Shape {
        let k = elevatedRatio
        let s = sink > k * sinkShare, r = recent > k * recentShare
        if s && r { return .u }
        if s { return .sink }
        if r { return .recent }
        if bins.contains(where: { $0.share > 0 && $0.mass > k * $0.share }) { return .mountain }
        return .uniform
    }

    /// The per-example statistic from the labels: the rarest of the three named shapes.
    public static func smallestShare(_ labels: [Shape]) -> Double {
        let n = Double(labels.count)
        return [Shape.u, .mountain, .uniform].map { s in Double(labels.filter { $0 == s }.count) / n }.min() ?? .nan
    }

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let r = x.essay
        let total = Double(r.bands.reduce(0) { $0 + $1.span.count })
        var labels: [Shape] = []
        var uniformEarly = 0
        let hs = r.reaching()   // v5: a head whose rows miss the chunks' first keys has no shape to label
        for lh in hs {
            let ctx = r.bands.reduce(0.0) { $0 + r.global.sum(lh, $1.span) }
            guard ctx > 0 else { continue }
            var sink = 0.0, recent = 0.0, sinkKeys = 0, recentKeys = 0
            var bins: [(mass: Double, share: Double)] = []
            for b in r.bands {
                let first = b.span.lowerBound..<min(b.span.upperBound, b.span.lowerBound + r.band)
                sink += r.global.sum(lh, first); sinkKeys += first.count
                recent += r.global.sum(lh, b.tail); recentKeys += b.tail.count
                let mid = first.upperBound..<b.tail.lowerBound, bw = max(1, r.width / 16)
                for lo in stride(from: mid.lowerBound, to: mid.upperBound, by: bw) {
                    let bin = lo..<min(mid.upperBound, lo + bw)
                    bins.append((r.global.sum(lh, bin) / ctx, Double(bin.count) / total))
                }
            }
            let shape = Self.label(sink: sink / ctx, sinkShare: Double(sinkKeys) / total, recent: recent / ctx,
                                   recentShare: Double(recentKeys) / total, bins: bins)
            labels.append(shape)
            if shape == .uniform && r.quarter(lh / r.heads) == 0 { uniformEarly += 1 }
        }
        var out: [String: Double] = ["value": Self.smallestShare(labels)]
        for s in Shape.allCases { out["share_" + s.rawValue] = Double(labels.filter { $0 == s }.count) / Double(max(1, labels.count)) }
        let uniform = labels.filter { $0 == .uniform }.count
        out["uniform_heads_in_first_quarter"] = uniform > 0 ? Double(uniformEarly) / Double(uniform) : .nan
        out["heads_counted"] = Double(hs.count)
        return out
    }
}
