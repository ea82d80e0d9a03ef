import Foundation

/// T2: every chunk has its own sink in global attention.
public struct SinkRepeatsClaim: Claim {
    public let id = "T2", kind = ClaimKind.paper
    public init() {}
    public var secondaryKeys: [String] { ["template_share_elevated", "content_sink_share_elevated_bos_kept"] }
    public let sentence = "In A_g, every chunk c shows its own U-shape, i.e. the first and last tokens of every chunk get more than their share."
    public let statistic = "share of (head, chunk 2..C) whose first S keys as cached (appendix C's band, template keys included) hold > 3x their uniform share of the question's global attention over the chunks (official cache: later chunks' first token dropped); content-only and template-only bands beside it"
    public let threshold = Threshold(value: 0.5, direction: .above)
    public let minimumEffect = 0.05
    public let confounds = ["under the chat layout the chunk's template prefix comes first and its keys are bit-identical in every chunk (same tokens, positions, causal): its sink is a copy; content_sink_share_elevated and template_share_elevated (not measured when there is no template) separate the two",
                     "S = 2.5 % of the chunk's content; the paper's 100 tokens of a 3.6K chunk include its own instruction prefix"]

    /// Share of (head, chunk) pairs whose band mass over its uniform share exceeds 3. An empty
    /// band is not a pair at all: with no pair left the share is NaN ("not measured"), never a
    /// tie's 0.5 (the v1 bug that gave Gemma, which has no template, a template share of 0.5).
    public static func elevatedShare(_ pairs: [(mass: Double, share: Double)]) -> Double {
        ClaimMath.share(pairs.filter { $0.share > 0 }.map { $0.mass > elevatedRatio * $0.share })
    }

    public static func pairs(_ t: KeyTable, _ bands: [ChunkBands], heads: [Int], band: (ChunkBands) -> Range<Int>) -> [(mass: Double, share: Double)] {
        let total = Double(bands.reduce(0) { $0 + $1.span.count })
        var out: [(mass: Double, share: Double)] = []
        for lh in heads {
            let ctx = bands.reduce(0.0) { $0 + t.sum(lh, $1.span) }
            guard ctx > 0 else { continue }
            for b in bands.dropFirst() { let r = band(b); out.append((t.sum(lh, r) / ctx, Double(r.count) / total)) }
        }
        return out
    }

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let r = x.essay
        guard r.chunks >= 2 else { return nil }
        let hs = r.reaching()   // v5: heads whose question rows see every chunk key
        return ["value": Self.elevatedShare(Self.pairs(r.global, r.bands, heads: hs) { $0.cachedHead }), "heads_counted": Double(hs.count),
                "content_sink_share_elevated": Self.elevatedShare(Self.pairs(r.global, r.bands, heads: hs) { $0.contentSink }),
                "template_share_elevated": Self.elevatedShare(Self.pairs(r.global, r.bands, heads: hs) { $0.template }),
                "recent_share_elevated": Self.elevatedShare(Self.pairs(r.global, r.bands, heads: hs) { $0.tail }),
                "content_sink_share_elevated_bos_kept": Self.elevatedShare(Self.pairs(r.kept, r.keptBands, heads: hs) { $0.contentSink })]
    }
}
