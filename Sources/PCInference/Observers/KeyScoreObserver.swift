/// Summed attention probability per key from the last r query rows, per layer and head: the
/// paper's cumulative score (Eq. 6). Callers count keys above lambda, or keep the top keys
/// SnapKV-style. Keys are indexed in the pass's key space (chunks first, then the query).
public final class KeyScoreObserver: StageObserver, @unchecked Sendable {
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

    public func start(scope: ObservationScope, workers: Int) {
        keyCount = scope.queryKeyStart + scope.queryRowCount
        sums.begin(workers: workers, size: layers * heads * keyCount)
    }
    /// [layer, head, key] of this pass.
    private var keyShape: Shape { Shape(layers, heads, keyCount) }
    public func wants(isQuery: Bool) -> Bool { isQuery || allRows || tailRows != nil }
    public var watchesChunkPasses: Bool { stage == .local }

    public func observe(_ b: AttentionBlock) {
        let sc = b.scope
        // Every row, the pass's tail, or its last query rows (only query blocks arrive then).
        let fromRow = allRows ? 0 : tailRows.map { keyCount - $0 }
            ?? sc.queryRowStart + sc.queryRowCount - min(lastRows, sc.queryRowCount)
        b.addKeyMass(fromRow: fromRow, into: sums.slot(b.worker) + keyShape(b.layer, b.head, 0), keyCount: keyCount)
    }

    public func end() { sums.endPass() }

    /// Scores of one (layer, head) over keys [0, keyCount).
    public func scores(layer: Int, head: Int) -> ArraySlice<Float> {
        let o = keyShape(layer, head, 0)
        return sums.total[o..<(o + keyCount)]
    }
}
