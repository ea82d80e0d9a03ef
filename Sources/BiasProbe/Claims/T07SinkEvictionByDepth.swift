import Foundation

/// T7: the effect of sink eviction flips with depth.
public struct SinkEvictionDepthClaim: Claim {
    public let id = "T7", kind = ClaimKind.paper
    public init() {}
    public let sentence = "Evicting sink-bias tokens in early layers can make the bias worse. In deeper layers it reduces the bias."
    public let statistic = "the smaller of -dH1 and dH4, where dHq is the change of the question rows' mean entropy in the evicted quarter's heads when the sink band (lambda 0.1, official question-stage calibration, band 100) is evicted in that quarter"
    public let threshold = Threshold(value: 0, direction: .above)
    public let confounds = ["question-stage bands are global (the first 100 keys of the whole cache: chunk 1's start), as the official prefill_2 mode has them",
                     "entropy over all keys is one measure of bias; the paper does not define one"]

    /// min(-early, deep): positive only when early eviction sharpens and deep eviction flattens.
    public static func statistic(early: Double, deep: Double) -> Double { min(-early, deep) }

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let r = x.essay
        func delta(_ after: [Double], _ q: Int) -> Double {
            ClaimMath.mean(r.layersOf(quarter: q).flatMap { l in (0..<r.heads).map { after[l * r.heads + $0] - r.globalEntropy[l * r.heads + $0] } })
        }
        let e = delta(r.entropySinkEarly, 0), d = delta(r.entropySinkDeep, 3)
        return ["value": Self.statistic(early: e, deep: d), "entropy_change_early": e, "entropy_change_deep": d]
    }
}
