import PCInference

/// Settings of what a trace observes.
public struct ObservationSettings: Codable, Equatable {
    public var sinkWidth = 100
    public var recentWidth = 100
    public var bins = 32
    public var lastRows = 8
    /// Also reduce every context row of every chunk (the within-chunk profile).
    public var prefillRows = true
    public init(sinkWidth: Int = 100, recentWidth: Int = 100, bins: Int = 32, lastRows: Int = 8, prefillRows: Bool = true) {
        self.sinkWidth = sinkWidth; self.recentWidth = recentWidth; self.bins = bins; self.lastRows = lastRows; self.prefillRows = prefillRows
    }
}

/// The observers of one traced run, and the arrays they produce, keyed by dataset name.
public final class TraceRecorder {
    public let settings: ObservationSettings
    public let layers: Int, heads: Int, chunks: Int
    public private(set) var observers: [AttentionObserver] = []
    private var collect: [() -> [(String, [Float], [Int])]] = []

    public init(settings s: ObservationSettings, layers L: Int, heads H: Int, chunks C: Int) {
        settings = s; layers = L; heads = H; chunks = C
        func band(_ stage: AttentionStage, _ rows: RowSelection, _ binning: ChunkBinning = .absolute, _ name: String, self selfName: String? = nil) {
            let o = BandMassObserver(stage: stage, rows: rows, sinkWidth: s.sinkWidth, recentWidth: s.recentWidth, binning: binning,
                                     layers: L, heads: H, chunks: C)
            observers.append(o)
            collect.append { [(name, o.bandMass(), [L, H, C, 3])] }
            if let selfName {
                collect.append { [(selfName, o.queryMass(), stage == .local ? [L, H, C] : [L, H])] }
            }
        }
        func profile(_ stage: AttentionStage, _ rows: RowSelection, _ name: String) {
            let o = PositionProfileObserver(stage: stage, rows: rows, bins: s.bins, layers: L, heads: H, chunks: C)
            observers.append(o)
            collect.append { [(name, o.profile(), [L, H, C, s.bins])] }
        }
        func stats(_ stage: AttentionStage, _ rows: RowSelection, _ entropyName: String, _ maxName: String) {
            let o = RowStatsObserver(stage: stage, rows: rows, layers: L, heads: H, chunks: C)
            observers.append(o)
            let shape = (stage == .global && rows.isQuery) ? [L, H] : [L, H, C]
            collect.append { let m = o.means(); return [(entropyName, m.entropy, shape), (maxName, m.maxProb, shape)] }
        }
        band(.local, .queryAll, .absolute, "local/band_mass", self: "local/query_mass")
        band(.local, .queryLast(s.lastRows), .absolute, "local/band_mass_last")
        profile(.local, .queryAll, "local/profile")
        stats(.local, .queryAll, "local/entropy", "local/max_prob")
        if s.prefillRows {
            band(.local, .context, .absolute, "local/prefill_band_mass")
            band(.local, .context, .relative, "local/prefill_band_mass_rel")
            profile(.local, .context, "local/prefill_profile")
            stats(.local, .context, "local/prefill_entropy", "local/prefill_max_prob")
        }
        band(.global, .queryAll, .absolute, "global/band_mass", self: "global/query_mass")
        band(.global, .queryLast(s.lastRows), .absolute, "global/band_mass_last")
        profile(.global, .queryAll, "global/profile")
        stats(.global, .queryAll, "global/entropy", "global/max_prob")
        let keys = KeyScoreObserver(stage: .global, lastRows: s.lastRows, layers: L, heads: H)
        observers.append(keys)
        collect.append { [("global/key_scores", keys.scores, [L, H, keys.keyCount])] }
        band(.decode, .queryAll, .absolute, "decode/band_mass", self: "decode/query_mass")
    }

    /// Every observed array: (dataset name, values, shape).
    public func arrays() -> [(String, [Float], [Int])] { collect.flatMap { $0() } }
}
