import Foundation

/// O1 (was T19): not a claim of the paper.
public struct FirstTokenShareObservation: Claim {
    public let id = "O1", kind = ClaimKind.observation
    public init() {}
    public let sentence = "Inferred, not stated in the paper: the total sink mass across chunks grows with C, and the per-chunk sink share shrinks."
    public let statistic = "abs(chunk 1's share of the mass on all chunks' first tokens - 1/C) with every chunk's first token kept"
    public let threshold = Threshold(value: 0.01, direction: .below)
    public let confounds = ["the chunks' first-token keys are bit-identical (same token, position 0, causal), so each gets exactly 1/C of their mass: this measures the cache layout, not the model"]

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let r = x.essay
        var first = 0.0, all = 0.0
        for lh in 0..<r.lhCount {
            let m = r.keptBands.map { r.kept.sum(lh, $0.span.lowerBound..<($0.span.lowerBound + 1)) }
            first += m[0]; all += m.reduce(0, +)
        }
        guard all > 0 else { return nil }
        return ["value": abs(first / all - 1 / Double(r.chunks)), "first_token_mass_sum_C\(r.chunks)": all / Double(r.lhCount)]
    }
}

/// O2 (was T20): keeping later chunks' BOS changes the sink statistics.
public struct KeptBOSObservation: Claim {
    public let id = "O2", kind = ClaimKind.observation
    public init() {}
    public let sentence = "Not the paper's claim: keeping every chunk's first token in the combined cache changes the sink statistics."
    public let statistic = "change of the share of heads whose recent mass beats their template-and-sink mass (T3's appendix-C form) when every chunk keeps its first token"
    public let threshold = Threshold(value: 0, direction: .below)
    public let confounds = ["near-tautological: keeping C - 1 more sink tokens adds sink mass"]

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        guard let t3 = RecencyOverSinkClaim().measure(x), let kept = t3["share_bos_kept"], let dropped = t3["value"] else { return nil }
        return ["value": kept - dropped]
    }
}

/// Every claim the report covers, paper claims first, in the paper-claims numbering.
public enum ClaimCatalog {
    public static let all: [any Claim] = [ThreeShapesClaim(), SinkRepeatsClaim(), RecencyOverSinkClaim(), WeakerRecencyClaim(), FlatterMorePeaksClaim(),
                                   GlobalEvictionClaim(), SinkEvictionDepthClaim(), RecencyToMiddleClaim(), MidDepthEvictionClaim(), OutlierMapClaim(),
                                   ConcentrationClaim(), ExponentialDecayClaim(), ShallowSinksClaim(), RecencyInContextClaim(), AllEvictionClaim(),
                                   CalibrationGainClaim(), ChunkSelectionClaim(), FlatPerplexityClaim(),
                                   QuestionBOSClaim(), FirstTokenShareObservation(), KeptBOSObservation(),
                                   LambdaScaled(ShallowSinksClaim()), LambdaScaled(AllEvictionClaim())]
}

/// A pass-key claim's test with lambda scaled to the chunk (the runs in `ExampleRuns.passkeyScaled`):
/// at 256-token chunks lambda = 0.1 is about 25x the uniform share and selects about one key per
/// head; lambda x w / 3,600 keeps the paper's threshold per 3,600-token chunk.
public struct LambdaScaled: Claim {
    public let base: any Claim
    public init(_ base: any Claim) { self.base = base }
    public var id: String { base.id + "L" }
    public var kind: ClaimKind { .sensitivity }
    public var sentence: String { base.sentence }
    public var statistic: String { base.statistic + "; lambda scaled to the chunk (0.1 x chunk / 3,600)" }
    public var threshold: Threshold { base.threshold }
    public var confounds: [String] { ["a sensitivity row: read beside \(base.id), not counted"] + base.confounds }
    public var minimumEffect: Double { base.minimumEffect }
    public var parts: [ClaimPart] { base.parts }
    public var clustered: Bool { base.clustered }
    public var manipulationKey: String? { base.manipulationKey }
    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        guard let scaled = x.passkeyScaled else { return nil }
        var y = x; y.passkey = scaled
        return base.measure(y)
    }
}
