/// The band of keys a calibration rule looks in.
public enum CalibrationBands {
    /// Whether candidate `i` of `n` lies in `band` (width w).
    public static func contains(_ band: CalibrationRule.Band, index i: Int, count n: Int, width w: Int,
                                edges: ParallelCompConfig.BandEdges = .official) -> Bool {
        band.keyBand?.contains(index: i, count: n, width: w, edges: edges) ?? true
    }
}

/// Attention calibration (R_H eviction; spec section 4.2): in its layers, the keys of a band whose
/// attention from the last r question rows exceeds lambda (strictly) are evicted; with head
/// equalisation every head then evicts as many keys as the head with the most, topping up with
/// its lowest-attention candidates. Band positions count the candidates still present, as the
/// official code does (spec sections 4.2, 4.5). Xiong et al., ICML 2025, section 4.
public struct AttentionCalibration: EvictionPolicy {
    public let lambda: Float, width: Int, band: CalibrationRule.Band, equalizeHeads: Bool, edges: ParallelCompConfig.BandEdges
    public var name: String { "calibration(\(band.rawValue), lambda \(lambda), band width \(width))" }
    public var rule: EvictionRule { .evictAbove(lambda: lambda, equalizeHeads: equalizeHeads) }

    public init(lambda: Float, width: Int, band: CalibrationRule.Band, equalizeHeads: Bool, edges: ParallelCompConfig.BandEdges = .official) {
        self.lambda = lambda; self.width = width; self.band = band; self.equalizeHeads = equalizeHeads; self.edges = edges
    }

    public func score(_ input: EvictionInput) -> ScoredCandidates {
        let c = input.candidates
        return ScoredCandidates(
            keys: c.map { $0.map(\.key) },
            scores: c.enumerated().map { h, cand in cand.map { input.scores[h][$0.key] } },
            eligible: c.map { cand in cand.map { CalibrationBands.contains(band, index: $0.position, count: cand.count, width: width, edges: edges) } })
    }
}

/// The head-agnostic calibration (official `prefill_2_calibration_I_J`, spec section 4.4): a key's
/// score is its mean over heads, and every candidate above lambda goes from every head (no band,
/// so no equalisation is needed).
public struct HeadAgnosticCalibration: EvictionPolicy {
    public let lambda: Float
    public var name: String { "calibration(head-agnostic, lambda \(lambda))" }
    public var rule: EvictionRule { .evictAbove(lambda: lambda, equalizeHeads: false) }

    public init(lambda: Float) { self.lambda = lambda }

    public func score(_ input: EvictionInput) -> ScoredCandidates {
        let H = max(1, input.scores.count)
        return ScoredCandidates(
            keys: input.candidates.map { $0.map(\.key) },
            scores: input.candidates.map { cand in cand.map { c in input.scores.reduce(0) { $0 + $1[c.key] } / Float(H) } })
    }
}
