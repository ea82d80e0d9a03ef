import Foundation

/// T14: early-layer recency tokens carry in-context learning.
public struct RecencyInContextClaim: Claim {
    public let id = "T14", kind = ClaimKind.paper
    public init() {}
    public let sentence = "Early-layer recency tokens support in-context learning; recency tokens in layers 9-16 support math and code (Table 8: recency eviction in layers 1-8 takes TREC 64 -> 59 and TriviaQA 84.63 -> 68.00)."
    public let statistic = "NLL increase (nats per token) of the right label of a TREC-like few-shot query when the recent band is evicted in the first quarter of layers, minus the largest increase from evicting it in any other quarter, every increase net of its matched random control (as many keys per head and pass evicted at random in the same quarter) (chunk-stage calibration, lambda 0.1, every chunk kept)"
    public let threshold = Threshold(value: 0, direction: .above)
    public let minimumEffect = 0.05
    public var manipulationKey: String? { "evicted_per_head" }
    public let confounds = ["a synthetic TREC-like task (4 question types from templates, label words drawn per example), far easier than TREC's 50 fine classes",
                            "the label's NLL instead of accuracy; accuracy is read from the 20 highest logits of the last question row and reported beside it",
                            "the recent band (2.5 % of a chunk) is the chunk's last demonstration's label and a few tokens before it",
                            "only the in-context-learning half of the claim is tested; math and code (layers 9-16) are not",
                            "the paper's secondary measure (the query's attention to the demonstrations' tails) is not taken"]

    /// Positive when the first quarter's eviction hurts most: d[0] - max(d[1...]).
    public static func statistic(_ d: [Double]) -> Double { d[0] - d.dropFirst().max()! }

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let f = x.fewShot
        guard let b = f.base, f.recentByQuarter.count == 4 else { return nil }
        let d = f.recentByQuarter.map { $0.nll - b.nll }
        var out: [String: Double] = ["value_uncontrolled": Self.statistic(d), "nll_base": b.nll, "accuracy_base": b.correct,
                                     "chance_accuracy": 1 / Double(max(1, f.labels))]
        for q in 0..<4 {
            out["nll_change_quarter\(q + 1)"] = d[q]
            out["accuracy_quarter\(q + 1)"] = f.recentByQuarter[q].correct
            out["evicted_keys_quarter\(q + 1)"] = f.recentByQuarter[q].evicted
            if f.recentByQuarter[q].evictedPerHead.isFinite { out["evicted_per_head_quarter\(q + 1)"] = f.recentByQuarter[q].evictedPerHead }
        }
        if f.recentByQuarterControl.count == 4 {
            let c = f.recentByQuarterControl.map { $0.nll - b.nll }
            for q in 0..<4 { out["nll_change_quarter\(q + 1)_control"] = c[q] }
            out["value"] = Self.statistic((0..<4).map { d[$0] - c[$0] })
        }
        // The claim is about quarter 1's eviction: it must have evicted something.
        if let e = out["evicted_per_head_quarter1"] { out["evicted_per_head"] = e }
        return out
    }
}
