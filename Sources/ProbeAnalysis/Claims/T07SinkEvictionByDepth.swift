import Foundation

/// T7: the effect of sink eviction flips with depth.
public struct SinkEvictionDepthClaim: Claim {
    public let id = "T7", kind = ClaimKind.paper
    public init() {}
    public let sentence = "Evicting sink-bias tokens in early layers can make the bias worse. In deeper layers it reduces the bias."
    public let statistic = "the smaller of -dH(early) and dH(deep), each net of its matched random control (the same run evicting as many keys per head at random), where dH is the change of the question rows' mean entropy in the quarter of layers after the evicted one (early: evict in quarter 1, read quarter 2; deep: evict in quarter 3, the paper's layers 17-24, read quarter 4) when the sink band is evicted (lambda 0.1, official question-stage calibration, band 100)"
    public let threshold = Threshold(value: 0, direction: .above)
    public let minimumEffect = 0.05
    public var manipulationKey: String? { "evicted_per_head" }
    public let confounds = ["in the evicted layer itself the entropy change is the algebra of removing a key and renormalising (positive for big keys, negative for small ones): reported as entropy_change_early_same_layers / entropy_change_deep_same_layers, never the headline",
                     "question-stage bands are global (the first 100 keys of the whole cache: chunk 1's start), as the official prefill_2 mode has them",
                     "entropy over all keys is one measure of bias; the paper does not define one"]

    /// min(-early, deep): positive only when early eviction sharpens and deep eviction flattens.
    public static func statistic(early: Double, deep: Double) -> Double { min(-early, deep) }

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let r = x.essay
        guard !r.entropySinkEarly.isEmpty, !r.entropySinkDeep.isEmpty else { return nil }
        func delta(_ after: [Double], _ q: Int) -> Double { ClaimMath.mean(r.headsOf(quarter: q).map { after[$0] - r.globalEntropy[$0] }) }
        let e = delta(r.entropySinkEarly, 1), d = delta(r.entropySinkDeep, 3)
        // v3: the headline is net of the random control; without one (v1/v2 rows) it is not measured.
        var out = ["value_uncontrolled": Self.statistic(early: e, deep: d), "entropy_change_early": e, "entropy_change_deep": d,
                   "entropy_change_early_same_layers": delta(r.entropySinkEarly, 0), "entropy_change_deep_same_layers": delta(r.entropySinkDeep, 2)]
        if !r.control.entropySinkEarly.isEmpty, !r.control.entropySinkDeep.isEmpty {
            let ce = delta(r.control.entropySinkEarly, 1), cd = delta(r.control.entropySinkDeep, 3)
            out["entropy_change_early_control"] = ce; out["entropy_change_deep_control"] = cd
            out["value"] = Self.statistic(early: e - ce, deep: d - cd)
        }
        if !r.evictedSinkEarly.isEmpty, !r.evictedSinkDeep.isEmpty {
            let a = ClaimMath.meanOver(r.evictedSinkEarly, r.headsOf(quarter: 0)), b = ClaimMath.meanOver(r.evictedSinkDeep, r.headsOf(quarter: 2))
            out["evicted_per_head_early"] = a; out["evicted_per_head_deep"] = b
            // Both halves must have evicted something for the contrast to mean anything.
            out["evicted_per_head"] = min(a, b)
        }
        return out
    }
}
