import Foundation

/// T17: the question's NLL picks the chunk that holds the evidence.
public struct ChunkSelectionClaim: Claim {
    public let id = "T17", kind = ClaimKind.paper
    public init() {}
    public let sentence = "Self-information picks the relevant chunk: the chunk with the lowest query NLL, -log P(X^q | X^c), is the one that holds the needle or evidence (Eq. 3-4; 100 % passkey with 1 kept chunk)."
    public let statistic = "top-1 hit rate of the pipeline's chunk ranking (lowest question NLL) for a pass-key needle in one of C short essay chunks, averaged over C = 4, 8, 16, 32"
    public let threshold = Threshold(value: 0.9, direction: .above)
    public let confounds = ["short chunks (tens of tokens), so the needle is a large part of its chunk",
                            "the smaller chunk counts are windows of the largest run's chunks (a chunk's score does not depend on the others), so the four counts share their chunks' scores",
                            "a ranking that is not near chance (1/C) but below 0.9 also fails: read the top-1 and top-3 rates per C"]

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let r = x.ranking.needleRank
        guard !r.isEmpty else { return nil }
        var out: [String: Double] = [:]
        for (C, rank) in r {
            out["top1_C\(C)"] = rank == 0 ? 1 : 0
            out["top3_C\(C)"] = rank < 3 ? 1 : 0
            out["chance_top1_C\(C)"] = 1 / Double(C)
        }
        out["value"] = r.values.map { $0 == 0 ? 1.0 : 0 }.reduce(0, +) / Double(r.count)
        return out
    }
}
