import Foundation

/// T9: sink plus recency eviction at mid depth spreads attention.
public struct MidDepthEvictionClaim: Claim {
    public let id = "T9", kind = ClaimKind.paper
    public init() {}
    public let sentence = "Evicting sink and recency tokens together reduces the bias in intermediate layers (Layer 16 is named)."
    public let statistic = "change of the question rows' mean entropy in the heads of the layers after the one at half depth, after evicting that layer's sink and recent bands (question stage, lambda 0.1), minus the change when as many keys per head are evicted there at random (matched control)"
    public let threshold = Threshold(value: 0, direction: .above)
    public let minimumEffect = 0.05
    public var manipulationKey: String? { "evicted_per_head" }
    public let confounds = ["in the evicted layer itself a higher entropy follows from removing the biggest keys (algebra, not the model): entropy_change_evicted_layer, never the headline",
                     "one layer (L/2) stands for the paper's Layer 16 of 32", "question-stage bands are global, as in the official prefill_2 mode"]

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let r = x.essay
        guard !r.entropyBothMid.isEmpty, r.midLayer + 1 < r.layers else { return nil }
        let same = r.heads(of: r.midLayer...r.midLayer), after = r.heads(of: (r.midLayer + 1)...(r.layers - 1))
        let change = ClaimMath.mean(after.map { r.entropyBothMid[$0] - r.globalEntropy[$0] })
        var out = ["value_uncontrolled": change,
                   "entropy_change_evicted_layer": ClaimMath.mean(same.map { r.entropyBothMid[$0] - r.globalEntropy[$0] }),
                   "max_prob_change_evicted_layer": ClaimMath.mean(same.map { r.maxBothMid[$0] - r.globalMax[$0] })]
        if !r.control.entropyBothMid.isEmpty {
            let c = ClaimMath.mean(after.map { r.control.entropyBothMid[$0] - r.globalEntropy[$0] })
            out["entropy_change_control"] = c; out["value"] = change - c
        }
        if !r.evictedBothMid.isEmpty { out["evicted_per_head"] = ClaimMath.meanOver(r.evictedBothMid, same) }
        return out
    }
}
