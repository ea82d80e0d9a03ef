/// Summed attention probability per key from the last r query rows, per layer and head: the
/// paper's cumulative score (Eq. 6). Callers count keys above lambda, or keep the top keys
/// SnapKV-style. Keys are indexed in the pass's key space (chunks first, then the query).
public final class KeyScoreObserver: AttentionObserver, @unchecked Sendable {
    public let stage: AttentionStage
    public let lastRows: Int
    public let layers: Int, heads: Int
    public private(set) var keyCount = 0
    private var partial: [UnsafeMutablePointer<Float>] = []
    private var cap = 0
    public private(set) var scores: [Float] = []   // [layer][head][keyCount] after end()

    public init(stage: AttentionStage, lastRows: Int, layers: Int, heads: Int) {
        self.stage = stage; self.lastRows = max(1, lastRows); self.layers = layers; self.heads = heads
    }
    deinit { partial.forEach { $0.deallocate() } }

    public func begin(scope: ObservationScope, workers: Int) -> Bool {
        guard scope.stage == stage else { return false }
        keyCount = scope.queryKeyStart + scope.queryRowCount
        let n = layers * heads * keyCount
        if n > cap { partial.forEach { $0.deallocate() }; partial = []; cap = n }
        while partial.count < workers { partial.append(.allocate(capacity: cap)) }
        for p in partial { p.update(repeating: 0, count: n) }
        return true
    }
    public func wants(isQuery: Bool) -> Bool { isQuery }
    public var watchesChunkPasses: Bool { stage == .local }

    public func observe(_ b: AttentionBlock) {
        let acc = partial[b.worker] + (b.layer * heads + b.head) * keyCount
        for i in 0..<b.rowCount where b.queryIndex(i) >= b.scope.queryRowCount - lastRows {
            let p = b.row(i), n = min(b.visibleKeys(i), keyCount - b.keyStart)
            let dst = acc + b.keyStart
            for k in 0..<n { dst[k] += p[k] }
        }
    }

    public func end() {
        let n = layers * heads * keyCount
        scores = [Float](repeating: 0, count: n)
        scores.withUnsafeMutableBufferPointer { s in
            for p in partial { for i in 0..<n { s[i] += p[i] } }
        }
    }

    /// Scores of one (layer, head) over keys [0, keyCount).
    public func scores(layer: Int, head: Int) -> ArraySlice<Float> {
        let o = (layer * heads + head) * keyCount
        return scores[o..<(o + keyCount)]
    }
}
