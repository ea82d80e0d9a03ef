import Foundation

/// T16: the paper's layer-banded calibration gives a small net gain.
public struct CalibrationGainClaim: Claim {
    public let id = "T16", kind = ClaimKind.paper
    public init() {}
    public let sentence = "The layer-banded calibration gives a small net gain (LongBench +0.61 on Llama-2 and +0.28 on Llama-3; InfiniteBench +1.82 and +0.54); recipe: Q1 evict R_m, Q2 evict R_r, Q4 evict R_s, Q3 untouched, lambda = 0.1."
    public let statistic = "two parts, both required: (a) the change of the answer's teacher-forced NLL (nats per token) with the recipe (`--calibration paper`: chunk stage, lambda 0.1) against its matched random control (as many keys per head and pass evicted at random in the same layers) is below -0.01; (b) the change against no eviction (the paper's net gain) is below -0.01; each averaged over the example's two tasks: the pass key (one kept chunk) and the few-shot classification (every chunk kept)"
    public let threshold = Threshold(value: 0, direction: .below)
    public let minimumEffect = 0.01
    public var manipulationKey: String? { "evicted_per_head" }
    public var parts: [ClaimPart] {
        [ClaimPart(key: "value", test: .beyond(threshold, minimumEffect: minimumEffect)),
         ClaimPart(key: "value_uncontrolled", test: .beyond(threshold, minimumEffect: minimumEffect))]
    }
    public var clustered: Bool { true }
    public let confounds = ["a null effect gives an interval around 0 and so an inconclusive verdict, not a failed one; the claim fails only when the recipe makes the answers reliably less likely",
                            "NLL instead of task scores; the accuracies with and without the recipe are reported beside it",
                            "two small tasks stand for LongBench and InfiniteBench",
                            "the pass key's needle chunk is kept in every run (from v3): eviction is measured apart from chunk selection"]

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        guard let pb = x.passkey.base, let pr = x.passkey.recipe, let fb = x.fewShot.base, let fr = x.fewShot.recipe else { return nil }
        let dp = pr.nll - pb.nll, df = fr.nll - fb.nll
        var out = ["value_uncontrolled": (dp + df) / 2, "nll_change_passkey": dp, "nll_change_fewshot": df,
                "fewshot_accuracy_base": fb.correct, "fewshot_accuracy_recipe": fr.correct]
        if let pc = x.passkey.recipeControl, let fc = x.fewShot.recipeControl {
            out["nll_change_passkey_vs_control"] = pr.nll - pc.nll; out["nll_change_fewshot_vs_control"] = fr.nll - fc.nll
            out["value"] = ((pr.nll - pc.nll) + (fr.nll - fc.nll)) / 2
        }
        // The recipe evicts in quarters 1, 2 and 4: its manipulation is the mean over them, pass key and few-shot alike.
        if let a = x.passkey.evictedPerHead(pr, quarters: 0...1), let b = x.passkey.evictedPerHead(pr, quarters: 3...3), fr.evictedPerHead.isFinite {
            out["evicted_per_head_passkey"] = (2 * a + b) / 3; out["evicted_per_head_fewshot"] = fr.evictedPerHead
            out["evicted_per_head"] = min((2 * a + b) / 3, fr.evictedPerHead)
        }
        return out
    }
}
