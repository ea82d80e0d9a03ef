import Foundation

/// T13: early-layer sinks carry retrieval.
public struct ShallowSinksClaim: Claim {
    public let id = "T13", kind = ClaimKind.paper
    public init() {}
    public let sentence = "Shallow sink tokens are needed for retrieval: sink eviction in layers 1-8 drops R.Num from 97.63 to 42.71; layers 17-31 cost nothing."
    public let statistic = "increase of the pass key's teacher-forced NLL (nats per token) when the sink band is evicted in the first quarter of layers, minus the increase when it is evicted in the second half (chunk-stage calibration, lambda 0.1, one kept chunk)"
    public let threshold = Threshold(value: 0, direction: .above)
    public let confounds = ["the sink band (2.5 % of a chunk) is mostly the chat template's keys",
                     "chunk-stage eviction also changes the chunk scores, so another chunk can be kept",
                     "NLL instead of accuracy: a 135M model's pass-key accuracy leaves little room to drop",
                                   "the difference can be positive because late eviction lowers the NLL rather than because early eviction raises it: read nll_change_early and nll_change_late (noted after the first full run; the statistic was not changed)"]

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let p = x.passkey
        guard let b = p.base, let e = p.sinkEarly, let l = p.sinkLate else { return nil }
        return ["value": (e.nll - b.nll) - (l.nll - b.nll), "nll_base": b.nll, "nll_change_early": e.nll - b.nll, "nll_change_late": l.nll - b.nll,
                "needle_mass_base": b.needleMass, "needle_mass_early": e.needleMass, "needle_mass_late": l.needleMass]
    }
}
