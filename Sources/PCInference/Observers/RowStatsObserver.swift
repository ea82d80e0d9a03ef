/// Mean row entropy (nats) and mean largest probability of the selected rows: how spread out or
/// how concentrated each head's attention is. Indexed [layer, head, slot] where the slot is the
/// row's chunk for local passes and context rows, and 0 for the query rows of a global pass.
public final class RowStatsObserver: StageObserver, @unchecked Sendable {
    public let stage: AttentionStage
    public let rows: RowSelection
    public let layers: Int, heads: Int, slots: Int
    let sums: WorkerAccumulator<Double>   // [layer, head, slot, (entropy, maxProb, rows)]

    public init(stage: AttentionStage, rows: RowSelection, layers: Int, heads: Int, chunks: Int) {
        self.stage = stage; self.rows = rows; self.layers = layers; self.heads = heads
        slots = (stage != .local && rows.isQuery) ? 1 : chunks
        sums = WorkerAccumulator(Shape(layers, heads, slots, 3))
    }

    public var needsEntropy: Bool { true }
    /// Only a local observer sees chunk passes (`begin` declines every other stage).
    public var watchesChunkPasses: Bool { stage == .local }
    public func start(scope: ObservationScope, workers: Int) {
        sums.begin(workers: workers)
    }
    public func wants(isQuery: Bool) -> Bool { isQuery == rows.isQuery }
    public func end() { sums.end() }

    public func observe(_ b: AttentionBlock) {
        let acc = sums.slot(b.worker)
        let S = sums.shape
        for i in 0..<b.rowCount where rows.contains(b, i) {
            guard let s = b.rowSlot(i, globalSlot: 0) else { continue }
            let o = S(b.layer, b.head, slots == 1 ? 0 : s, 0)
            acc[o] += Double(b.entropy?[i] ?? .nan)
            acc[o + 1] += Double(b.maxProb[i])
            acc[o + 2] += 1
        }
    }

    /// (entropy, maxProb), each [layer, head, slots]; NaN where no row was seen.
    public func means() -> (entropy: [Float], maxProb: [Float]) {
        let n = layers * heads * slots
        var e = [Float](repeating: .nan, count: n), m = e
        for i in 0..<n {
            let c = sums.total[i * 3 + 2]
            guard c > 0 else { continue }
            e[i] = Float(sums.total[i * 3] / c); m[i] = Float(sums.total[i * 3 + 1] / c)
        }
        return (e, m)
    }
}
