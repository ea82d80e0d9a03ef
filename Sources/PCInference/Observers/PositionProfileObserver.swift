/// Attention mass per chunk in B equal bins of relative position: the shape (U, mountain,
/// uniform) of each head's attention over each chunk.
/// Key k of a chunk [a, a+L) falls in bin floor((k-a) * B / L).
public final class PositionProfileObserver: StageObserver, @unchecked Sendable {
    public let stage: AttentionStage
    public let rows: RowSelection
    public let bins: Int
    public let layers: Int, heads: Int, chunks: Int
    let mass: WorkerAccumulator<Double>       // [layer, head, chunk, bin]
    let rowCount: WorkerAccumulator<Double>   // [layer, head, row slot]: `rowSlot`, global query rows at `chunks`
    private var seenChunks = Set<Int>()

    public init(stage: AttentionStage, rows: RowSelection, bins: Int = 32, layers: Int, heads: Int, chunks: Int) {
        self.stage = stage; self.rows = rows; self.bins = max(1, bins)
        self.layers = layers; self.heads = heads; self.chunks = chunks
        mass = WorkerAccumulator(Shape(layers, heads, chunks, self.bins))
        rowCount = WorkerAccumulator(Shape(layers, heads, chunks + 1))
    }

    public func start(scope: ObservationScope, workers: Int) {
        seenChunks.formUnion(scope.chunkIDs)
        mass.begin(workers: workers); rowCount.begin(workers: workers)
    }
    public func wants(isQuery: Bool) -> Bool { isQuery == rows.isQuery }
    public func end() { mass.end(); rowCount.end() }

    public func observe(_ b: AttentionBlock) {
        let sc = b.scope
        let acc = mass.slot(b.worker), cnt = rowCount.slot(b.worker)
        let M = mass.shape, N = rowCount.shape
        for i in 0..<b.rowCount where rows.contains(b, i) {
            guard let slot = b.rowSlot(i, globalSlot: chunks) else { continue }
            let p = b.row(i), vis = b.visibleKeys(i), k0 = b.keyStart
            func add(span: Range<Int>, chunk: Int) {
                let a = span.lowerBound, L = span.count
                let o = M(b.layer, b.head, chunk, 0)
                for t in 0..<bins {
                    let lo = a + (t * L + bins - 1) / bins, hi = a + ((t + 1) * L + bins - 1) / bins
                    let l = max(lo, k0), h = min(hi, k0 + vis)
                    if l < h { acc[o + t] += Double(VectorMath.sum(p + (l - k0), h - l)) }
                }
            }
            cnt[N(b.layer, b.head, slot)] += 1
            if b.isQuery {
                for (j, span) in sc.chunkSpans.enumerated() { add(span: span, chunk: sc.chunkIDs[j]) }
            } else {
                add(span: sc.chunkSpans[sc.spanIndex(ofKey: b.firstRow + i)!], chunk: slot)
            }
        }
    }

    /// Mean mass [layer, head, chunk, bin]; NaN for chunks no selected row saw.
    public func profile() -> [Float] {
        let M = mass.shape, N = rowCount.shape
        var out = [Float](repeating: .nan, count: M.count)
        let global = stage != .local && rows.isQuery
        for l in 0..<layers {
            for h in 0..<heads {
                for c in 0..<chunks {
                    let n = rowCount.total[N(l, h, global ? chunks : c)]
                    guard n > 0, !global || seenChunks.contains(c) else { continue }
                    for t in 0..<bins { out[M(l, h, c, t)] = Float(mass.total[M(l, h, c, t)] / n) }
                }
            }
        }
        return out
    }
}
