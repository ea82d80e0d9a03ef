import Foundation

/// T20: the special token in front of the question matters.
public struct QuestionBOSClaim: Claim {
    public let id = "T20", kind = ClaimKind.paper
    public init() {}
    public let sentence = "Special prompt tokens change the outcome a lot (Sec. 5.3: <|begin_of_text|> has a \"significant impact\")."
    public let statistic = "absolute change of the pass key's teacher-forced NLL (nats per token) when the question is prefilled without its BOS (official: BOS q)"
    public let threshold = Threshold(value: 0.1, direction: .above)
    public let confounds = ["an absolute difference is never negative, so noise alone pushes its mean up; the signed change is reported too",
                     "the pass key's NLL stands for the paper's accuracy (a 135M model's accuracy leaves little room to move)"]

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        guard let b = x.passkey.base, let n = x.passkey.noQuestionBOS else { return nil }
        return ["value": abs(n.nll - b.nll), "nll_change_signed": n.nll - b.nll]
    }
}
