import Foundation

/// T20: the special token in front of the question matters.
public struct QuestionBOSClaim: Claim {
    public let id = "T20", kind = ClaimKind.paper
    public init() {}
    public let sentence = "Special prompt tokens change the outcome a lot (Sec. 5.3: <|begin_of_text|> has a \"significant impact\")."
    public let statistic = "signed change of the pass key's teacher-forced NLL (nats per token) when the question is prefilled without its BOS (official: BOS q); holds when the interval lies wholly outside +/- 0.1, fails when wholly inside (TOST)"
    public let threshold = Threshold(value: 0.1, direction: .above)
    public var parts: [ClaimPart] { [ClaimPart(key: "value", test: .different(margin: 0.1))] }
    public var clustered: Bool { true }
    public let confounds = ["v1 tested the absolute change, which noise alone pushes up (abs_change_v1); v2 tests the signed change two-sided",
                     "the pass key's NLL stands for the paper's accuracy (a 135M model's accuracy leaves little room to move)",
                     "the needle's chunk is kept (from v3), so the BOS's effect on chunk selection is not part of this number"]

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        guard let b = x.passkey.base, let n = x.passkey.noQuestionBOS else { return nil }
        return ["value": n.nll - b.nll, "abs_change_v1": abs(n.nll - b.nll)]
    }
}
