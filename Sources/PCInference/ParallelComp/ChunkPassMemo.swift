import Foundation

/// Finished chunk passes, for runs that repeat them: the chunk's cache as the chunk stage left
/// it (keys, values, keep masks after chunk-stage calibration and SnapKV), its NLL score and what
/// calibration evicted. Opt-in (`ParallelCompPipeline.passMemo`): a caller that runs several
/// pipeline variants over the same chunks (the claims runners: question-stage calibration, its
/// controls, combine-stage ablations) shares one memo between them, and a later run whose chunk
/// pass has an equal key takes the stored cache instead of prefilling it. Same tokens, same
/// model, same chunk-stage settings give the same bits, so no number changes.
///
/// A stored cache is shared, not copied: the combined cache references chunk blocks and later
/// passes always write to blocks of their own (`KVCache.reserve`), so nothing writes to one
/// after its pass. Entries past `byteBudget` are dropped, least recently used first.
public final class ChunkPassMemo: @unchecked Sendable {
    struct Key: Hashable {
        let model: ObjectIdentifier
        let chunk: [Int], question: [Int]
        let settings: String
        /// The first key chunk-stage eviction may take (a later chunk's BOS never goes), and the
        /// SnapKV budget of this chunk (it depends on the shortest chunk of the document).
        let firstCandidate: Int, snapBudget: Int
    }
    struct Entry {
        let nll: Double
        let block: KVBlock
        let masks: [[[UInt8]?]]
        let compressed: [Int]
        let snapKept: [[[Int]]]?
        let calibration: ParallelCompPipeline.ChunkCalibration?
        init(_ c: ParallelCompPipeline.ScoredChunk) {
            nll = c.nll; block = c.held.block; masks = c.held.masks; compressed = c.held.compressed
            snapKept = c.held.snapKept; calibration = c.calibration
        }
        var bytes: Int { block.bytes + masks.reduce(0) { $0 + $1.reduce(0) { $0 + ($1?.count ?? 0) } } }
    }

    public let byteBudget: Int
    private var entries: [Key: (entry: Entry, used: Int)] = [:]
    private var clock = 0
    private let lock = NSLock()
    /// Bytes held, passes taken from the memo, and passes stored.
    public private(set) var bytes = 0, hits = 0, stores = 0

    /// `byteBudget`: the most the stored caches may hold (default 256 MiB: one essay example's
    /// passes at full size need about 60 MB on SmolLM2-135M).
    public init(byteBudget: Int = 256 << 20) { self.byteBudget = byteBudget }

    /// The configuration with every field that cannot change a chunk pass reset to its default,
    /// encoded with sorted keys. Fields are dropped by name, so a field added later is in the key
    /// until someone shows it does not touch the chunk stage (a needless miss, never a wrong hit).
    /// Observers are not in it: a watched pass computes the same numbers.
    static func settings(_ c: ParallelCompConfig) -> String {
        var k = c, d = ParallelCompConfig()
        d.keepChunks = 0   // a default no run uses, so the reset stays visible in the text
        k.keepChunks = d.keepChunks; k.selection = d.selection; k.tieBreak = d.tieBreak
        k.rankingSeed = d.rankingSeed                   // the random ranking's score is drawn after the pass
        k.keepEveryChunkFirstToken = d.keepEveryChunkFirstToken; k.snapKVDropFirstKept = d.snapKVDropFirstKept   // combine stage
        k.chunkTokens = d.chunkTokens; k.rawModelMaxLen = d.rawModelMaxLen; k.splitBy = d.splitBy   // the chunks are in the key
        k.questionBOS = d.questionBOS                   // the pass's question tokens are in the key
        k.calibration = c.calibrationRules(at: .chunk)
        if c.calibrationRules(at: .chunk).isEmpty {
            k.lambda = d.lambda; k.calibrationRows = d.calibrationRows; k.bandWidth = d.bandWidth; k.equalizeHeads = d.equalizeHeads
            k.bandEdges = d.bandEdges; k.chunkCalibrationRows = d.chunkCalibrationRows; k.evictionAlignment = d.evictionAlignment
            k.calibrationControl = d.calibrationControl; k.calibrationControlSeed = d.calibrationControlSeed
            k.calibrationControlCounts = d.calibrationControlCounts
        }
        k.protectQuestionKeys = d.protectQuestionKeys   // question stage
        if c.compression?.stage != .chunk { k.compression = nil }
        k.maxNewTokens = d.maxNewTokens; k.stopTokens = d.stopTokens; k.sampling = d.sampling   // decoding
        return (try? JSONCoding.line(k)) ?? UUID().uuidString   // unencodable: a key nothing equals
    }

    func lookup(_ k: Key) -> Entry? {
        lock.lock(); defer { lock.unlock() }
        guard let e = entries[k] else { return nil }
        clock += 1; hits += 1
        entries[k] = (e.entry, clock)
        return e.entry
    }

    func store(_ k: Key, _ v: Entry) {
        lock.lock(); defer { lock.unlock() }
        let size = v.bytes
        guard size <= byteBudget, entries[k] == nil else { return }
        while bytes + size > byteBudget, let old = entries.min(by: { $0.value.used < $1.value.used }) {
            bytes -= old.value.entry.bytes
            entries[old.key] = nil
        }
        clock += 1; stores += 1
        entries[k] = (v, clock)
        bytes += size
    }
}
