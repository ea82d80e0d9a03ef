/// Attention mass per chunk in B equal bins of relative position: the shape (U, mountain,
/// uniform) of each head's attention over each chunk.
/// Key k of a chunk [a, a+L) falls in bin floor((k-a) * B / L).
public final class PositionProfileObserver: AttentionObserver, @unchecked Sendable {
    public let stage: AttentionStage
    public let rows: RowSelection
    public let bins: Int
    public let layers: Int, heads: Int, chunks: Int
    let mass: WorkerAccumulator       // [layer][head][chunk][bin]
    let rowCount: WorkerAccumulator   // [layer][head][chunk + 1]
    private var seenChunks = Set<Int>()

    public init(stage: AttentionStage, rows: RowSelection, bins: Int = 32, layers: Int, heads: Int, chunks: Int) {
        self.stage = stage; self.rows = rows; self.bins = max(1, bins)
        self.layers = layers; self.heads = heads; self.chunks = chunks
        mass = WorkerAccumulator(size: layers * heads * chunks * self.bins)
        rowCount = WorkerAccumulator(size: layers * heads * (chunks + 1))
    }

    public func begin(scope: ObservationScope, workers: Int) -> Bool {
        guard scope.stage == stage else { return false }
        seenChunks.formUnion(scope.chunkIDs)
        mass.begin(workers: workers); rowCount.begin(workers: workers)
        return true
    }
    public func wants(isQuery: Bool) -> Bool { isQuery == rows.isQuery }
    public func end() { mass.end(); rowCount.end() }

    public func observe(_ b: AttentionBlock) {
        let sc = b.scope
        let acc = mass.slot(b.worker), cnt = rowCount.slot(b.worker)
        let lh = b.layer * heads + b.head
        for i in 0..<b.rowCount where rows.contains(b, i) {
            let p = b.row(i), vis = b.visibleKeys(i), k0 = b.keyStart
            func add(span: Range<Int>, chunk: Int) {
                let a = span.lowerBound, L = span.count
                let o = (lh * chunks + chunk) * bins
                for t in 0..<bins {
                    let lo = a + (t * L + bins - 1) / bins, hi = a + ((t + 1) * L + bins - 1) / bins
                    let l = max(lo, k0), h = min(hi, k0 + vis)
                    if l < h { acc[o + t] += Double(VectorMath.sum(p + (l - k0), h - l)) }
                }
            }
            if b.isQuery {
                cnt[lh * (chunks + 1) + (stage != .local ? chunks : sc.chunkIDs.first ?? 0)] += 1
                for (j, span) in sc.chunkSpans.enumerated() { add(span: span, chunk: sc.chunkIDs[j]) }
            } else if let j = sc.spanIndex(ofKey: b.firstRow + i) {
                cnt[lh * (chunks + 1) + sc.chunkIDs[j]] += 1
                add(span: sc.chunkSpans[j], chunk: sc.chunkIDs[j])
            }
        }
    }

    /// Mean mass [layer, head, chunk, bin]; NaN for chunks no selected row saw.
    public func profile() -> [Float] {
        var out = [Float](repeating: .nan, count: layers * heads * chunks * bins)
        let global = stage != .local && rows.isQuery
        for lh in 0..<(layers * heads) {
            for c in 0..<chunks {
                let n = rowCount.total[lh * (chunks + 1) + (global ? chunks : c)]
                guard n > 0, !global || seenChunks.contains(c) else { continue }
                for t in 0..<bins { out[(lh * chunks + c) * bins + t] = Float(mass.total[(lh * chunks + c) * bins + t] / n) }
            }
        }
        return out
    }
}
