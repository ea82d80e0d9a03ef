import Foundation

/// T13: early-layer sinks carry retrieval.
public struct ShallowSinksClaim: Claim {
    public let id = "T13", kind = ClaimKind.paper
    public init() {}
    public let sentence = "Shallow sink tokens are needed for retrieval: sink eviction in layers 1-8 drops R.Num from 97.63 to 42.71; layers 17-31 cost nothing."
    public let statistic = "two parts, both required, each net of its matched random control (the same run evicting as many keys per head and pass at random): (a) the increase of the pass key's teacher-forced NLL (nats per token) when the sink band is evicted in the first quarter of layers exceeds 0.05; (b) the change when it is evicted in the second half lies within +/- 0.05 (TOST) (chunk-stage calibration, lambda 0.1, one kept chunk)"
    public let threshold = Threshold(value: 0, direction: .above)
    public let minimumEffect = 0.05
    public var parts: [ClaimPart] {
        [ClaimPart(key: "value", test: .beyond(threshold, minimumEffect: minimumEffect)),
         ClaimPart(key: "nll_change_late_net", test: .equivalent(margin: minimumEffect))]
    }
    /// v1 pass keys repeat five configurations: their unit is the configuration.
    public var clustered: Bool { true }
    public var manipulationKey: String? { "evicted_per_head" }
    public let confounds = ["under the chat layout the sink band (2.5 % of a chunk) is mostly the chat template's keys",
                     "the needle's chunk is kept in every run (from v3), so the effect is eviction's alone; in the full pipeline chunk-stage eviction also changes the chunk scores (v2 rows show selection changes deciding the NLL)",
                     "NLL instead of accuracy: a 135M model's pass-key accuracy leaves little room to drop",
                     "v1's single statistic (early minus late, difference_v1) could hold because late eviction lowered the NLL; v2 tests the two halves of the pattern apart",
                     "the matched control draws its keys from the whole chunk; it answers 'these keys or any keys', not 'these keys or other high-attention keys'"]

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let p = x.passkey
        guard let b = p.base, let e = p.sinkEarly, let l = p.sinkLate else { return nil }
        var out = ["value_uncontrolled": e.nll - b.nll, "difference_v1": (e.nll - b.nll) - (l.nll - b.nll), "nll_base": b.nll, "nll_change_late": l.nll - b.nll,
                   "needle_mass_base": b.needleMass, "needle_mass_early": e.needleMass, "needle_mass_late": l.needleMass]
        if let ec = p.sinkEarlyControl, let lc = p.sinkLateControl {
            out["nll_change_early_control"] = ec.nll - b.nll; out["nll_change_late_control"] = lc.nll - b.nll
            out["value"] = e.nll - ec.nll; out["nll_change_late_net"] = l.nll - lc.nll
        }
        if let early = p.evictedPerHead(e, quarters: 0...0), let late = p.evictedPerHead(l, quarters: 2...3) {
            out["evicted_per_head_early"] = early; out["evicted_per_head_late"] = late; out["evicted_per_head"] = min(early, late)
        }
        return out
    }
}
