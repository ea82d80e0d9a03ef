import Foundation

/// T18: perplexity does not grow with the number of chunks.
public struct FlatPerplexityClaim: Claim {
    public let id = "T18", kind = ClaimKind.paper
    public init() {}
    public let sentence = "Perplexity stays flat as the number of chunks grows (Table 3: Llama3 Ours 5.85 at 2K to 5.72 at 128K)."
    public let statistic = "NLL (nats per token) of the text following a document given it in the most chunks, minus given the nearest chunk alone (default pipeline: keep the 3 chunks of lowest question NLL)"
    public let threshold = Threshold(value: 0.1, direction: .below)
    /// "Flat" is two-sided: within +/- 0.1 nats (v1 tested only the upper side).
    public var parts: [ClaimPart] { [ClaimPart(key: "value", test: .equivalent(margin: 0.1))] }
    public let confounds = ["the \"question\" is the next 16 tokens of text, so chunk selection ranks by how well a chunk predicts them",
                     "a few thousand tokens, not 128K"]

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let n = x.continuation.nll
        guard let lo = n.keys.min(), let hi = n.keys.max(), lo < hi, let a = n[lo], let b = n[hi] else { return nil }
        var out: [String: Double] = ["value": b - a]
        for (c, v) in n { out["nll_C\(c)"] = v }
        return out
    }
}
