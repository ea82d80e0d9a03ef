import Foundation

/// T6: one global eviction concentrates attention more than per-chunk eviction.
public struct GlobalEvictionClaim: Claim {
    public let id = "T6", kind = ClaimKind.paper
    public init() {}
    public let sentence = "Standard (global) KV eviction concentrates attention more than per-chunk eviction: ordinary KV-cache eviction makes the bias worse; parallel (per-chunk) KV eviction gives a more stable distribution."
    public let statistic = "share of heads whose first decode row has lower entropy after SnapKV-style eviction over the whole cache after the question prefill (stage_eviction) than after the same eviction inside every chunk (half of each chunk's content kept in both)"
    public let threshold = Threshold(value: 0.5, direction: .above)
    public let minimumEffect = 0.05
    public let confounds = ["per-chunk eviction also changes the question prefill (its cache is already compressed), so the first generated token can differ between the two runs",
                     "one decode row per example: the paper's Fig. 5 shows single heads"]

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let r = x.essay
        let g = r.decodeEntropyGlobalEviction, c = r.decodeEntropyChunkEviction, n = r.decodeEntropy
        guard g.count == r.lhCount, c.count == r.lhCount else { return nil }
        return ["value": ClaimMath.share((0..<r.lhCount).map { ClaimMath.less(g[$0], c[$0]) }),
                "entropy_change_global_eviction": ClaimMath.mean((0..<r.lhCount).map { g[$0] - n[$0] }),
                "entropy_change_chunk_eviction": ClaimMath.mean((0..<r.lhCount).map { c[$0] - n[$0] })]
    }
}
