/// Summed attention probability per key from the last r query rows, per layer and head: the
/// paper's cumulative score (Eq. 6). Callers count keys above lambda, or keep the top keys
/// SnapKV-style. Keys are indexed in the pass's key space (chunks first, then the query).
public final class KeyScoreObserver: AttentionObserver, @unchecked Sendable {
    public let stage: AttentionStage
    public let lastRows: Int
    /// Sum over every row of the pass, context rows included (H2O's accumulated attention).
    public let allRows: Bool
    /// Sum over the pass's last `tailRows` rows, context rows included when the question is
    /// shorter (SnapKV's observation window as its reference code takes it); nil: query rows only.
    public let tailRows: Int?
    public let layers: Int, heads: Int
    public private(set) var keyCount = 0
    /// [layer, head, key] of the last pass watched.
    private let sums: WorkerAccumulator<Float>
    public var scores: [Float] { sums.total }

    public init(stage: AttentionStage, lastRows: Int, layers: Int, heads: Int, allRows: Bool = false, tailRows: Int? = nil) {
        self.stage = stage; self.lastRows = max(1, lastRows); self.layers = layers; self.heads = heads; self.allRows = allRows
        self.tailRows = tailRows
        sums = WorkerAccumulator(Shape(layers, heads, 0))
    }

    public func begin(scope: ObservationScope, workers: Int) -> Bool {
        guard scope.stage == stage else { return false }
        keyCount = scope.queryKeyStart + scope.queryRowCount
        sums.begin(workers: workers, size: layers * heads * keyCount)
        return true
    }
    public func wants(isQuery: Bool) -> Bool { isQuery || allRows || tailRows != nil }
    public var watchesChunkPasses: Bool { stage == .local }

    public func observe(_ b: AttentionBlock) {
        let acc = sums.slot(b.worker) + (b.layer * heads + b.head) * keyCount
        let tailStart = tailRows.map { keyCount - $0 }
        for i in 0..<b.rowCount where allRows || (tailStart.map { b.firstRow + i >= $0 }
                                                  ?? (b.isQuery && b.queryIndex(i) >= b.scope.queryRowCount - lastRows)) {
            let p = b.row(i), n = min(b.visibleKeys(i), keyCount - b.keyStart)
            let dst = acc + b.keyStart
            for k in 0..<n { dst[k] += p[k] }
        }
    }

    public func end() { sums.endPass() }

    /// Scores of one (layer, head) over keys [0, keyCount).
    public func scores(layer: Int, head: Int) -> ArraySlice<Float> {
        let o = (layer * heads + head) * keyCount
        return sums.total[o..<(o + keyCount)]
    }
}
