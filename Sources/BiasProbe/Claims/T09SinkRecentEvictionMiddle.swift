import Foundation

/// T9: sink plus recency eviction at mid depth spreads attention.
public struct MidDepthEvictionClaim: Claim {
    public let id = "T9", kind = ClaimKind.paper
    public init() {}
    public let sentence = "Evicting sink and recency tokens together reduces the bias in intermediate layers (Layer 16 is named)."
    public let statistic = "change of the question rows' mean entropy in the heads of the layer at half depth after evicting its sink and recent bands (question stage, lambda 0.1)"
    public let threshold = Threshold(value: 0, direction: .above)
    public let confounds = ["one layer (L/2) stands for the paper's Layer 16 of 32", "question-stage bands are global, as in the official prefill_2 mode"]

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let r = x.essay
        let idx = (0..<r.heads).map { r.midLayer * r.heads + $0 }
        return ["value": ClaimMath.mean(idx.map { r.entropyBothMid[$0] - r.globalEntropy[$0] }),
                "max_prob_change": ClaimMath.mean(idx.map { r.maxBothMid[$0] - r.globalMax[$0] })]
    }
}
