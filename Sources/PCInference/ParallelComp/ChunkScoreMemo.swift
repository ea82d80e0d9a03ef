import Foundation

/// Question NLLs of chunks already scored, keyed by the chunk's token ids, the question and the
/// settings that shape the score. Synthetic inputs (the passkey's repeated filler) contain many
/// identical chunks; a chunk whose remembered score could not enter the keep-K heap is skipped
/// instead of prefilled. The result is unchanged: the same tokens under the same settings give
/// the same score, and a skipped chunk is one the heap would have dropped at once. Chunk-stage
/// calibration is deterministic too, so its evictions are remembered with the score.
public final class ChunkScoreMemo: @unchecked Sendable {
    /// `firstCandidate`: chunk-stage calibration may evict the document's first chunk's BOS but
    /// no other chunk's, so the same tokens score differently there.
    struct Key: Hashable { let chunk: [Int]; let question: [Int]; let settings: String; var firstCandidate = 0 }
    /// What a chunk pass leaves that does not depend on the other chunks: its score, and what
    /// chunk-stage calibration evicted in it (the run's eviction log counts every chunk).
    struct Entry { let nll: Double; let calibration: ParallelCompPipeline.ChunkCalibration? }
    private var entries: [Key: Entry] = [:]
    private let lock = NSLock()

    public init() {}

    /// The settings that change a chunk's score, to the last bit, as typed values (encoded with
    /// sorted keys, so equal settings give equal keys). Observers are not among them: the kernel
    /// computes the same numbers whether or not a pass is watched. A batched pass sums in another
    /// order, so its batch size is.
    struct ScoreSettings: Codable, Equatable {
        var scoreTokens: Int
        var nllFormula: ParallelCompConfig.NLLFormula
        var ranking: ParallelCompConfig.Ranking
        var chunkCalibration: [CalibrationRule]
        var lambda: Float, calibrationRows: Int, bandWidth: Int, equalizeHeads: Bool
        var bandEdges: ParallelCompConfig.BandEdges
        var chunkCalibrationRows: ParallelCompConfig.ChunkCalibrationRows
        var evictionAlignment: EvictionAlignment
        var evictChunkFirstToken: Bool
        var batchChunks: Int
        /// A matched control evicts other keys than its rule, so it scores differently.
        var calibrationControl: ParallelCompConfig.CalibrationControl, calibrationControlSeed: UInt64
        /// ... and a v5 control replays the rule run's counts.
        var calibrationControlCounts: CalibrationCounts?
    }

    static func settings(_ c: ParallelCompConfig) -> String {
        let s = ScoreSettings(scoreTokens: c.scoreTokens, nllFormula: c.nllFormula, ranking: c.ranking,
                              chunkCalibration: c.calibrationRules(at: .chunk), lambda: c.lambda,
                              calibrationRows: c.calibrationRows, bandWidth: c.bandWidth, equalizeHeads: c.equalizeHeads,
                              bandEdges: c.bandEdges, chunkCalibrationRows: c.chunkCalibrationRows,
                              evictionAlignment: c.evictionAlignment, evictChunkFirstToken: c.evictChunkFirstToken,
                              batchChunks: c.batchChunks, calibrationControl: c.calibrationControl,
                              calibrationControlSeed: c.calibrationControlSeed, calibrationControlCounts: c.calibrationControlCounts)
        return (try? JSONCoding.line(s)) ?? ""
    }

    func lookup(_ k: Key) -> Entry? { lock.lock(); defer { lock.unlock() }; return entries[k] }
    func store(_ k: Key, _ v: Entry) { lock.lock(); entries[k] = v; lock.unlock() }
}
