import Foundation

/// Question NLLs of chunks already scored, keyed by the chunk's token ids, the question and the
/// settings that shape the score. Synthetic inputs (the passkey's repeated filler) contain many
/// identical chunks; a chunk whose remembered score could not enter the keep-K heap is skipped
/// instead of prefilled. The result is unchanged: the same tokens under the same settings give
/// the same score, and a skipped chunk is one the heap would have dropped at once.
public final class ChunkScoreMemo: @unchecked Sendable {
    struct Key: Hashable { let chunk: [Int]; let question: [Int]; let settings: String }
    private var nll: [Key: Double] = [:]
    private let lock = NSLock()

    public init() {}

    /// The settings that change a chunk's score, to the last bit: chunk-stage calibration shapes
    /// the pass; compression watches it (the kernel then normalises rows before P.V, which can
    /// move the NLL by a rounding step); a batched pass sums in another order.
    static func settings(_ c: ParallelCompConfig) -> String {
        let rules = c.calibration.filter { $0.stage == .chunk }.map(\.description).joined(separator: ",")
        return "\(c.scoreTokens)|\(c.nllFormula.rawValue)|\(rules)|\(c.lambda)|\(c.calibrationRows)|\(c.bandWidth)|\(c.equalizeHeads)"
            + "|\(c.compression != nil)|\(c.batchChunks)|\(c.ranking.rawValue)"
    }

    func lookup(_ k: Key) -> Double? { lock.lock(); defer { lock.unlock() }; return nll[k] }
    func store(_ k: Key, _ v: Double) { lock.lock(); nll[k] = v; lock.unlock() }
}
