/// Attention mass on each chunk's sink, middle and recent bands, plus the query's own tokens.
///
/// Bands of a chunk of length L: sink = its first min(S, L) keys, recent = the last R keys not in
/// the sink, middle = the rest. Query rows are reduced over every chunk they see; context rows
/// over their own chunk only (absolute or relative binning). Results are means over the
/// selected rows, indexed by the document's chunk number.
public final class BandMassObserver: StageObserver, @unchecked Sendable {
    public static let bands = KeyBand.chunkBandNames
    public let stage: AttentionStage
    public let rows: RowSelection
    public let sinkWidth: Int, recentWidth: Int
    public let binning: ChunkBinning
    public let layers: Int, heads: Int, chunks: Int
    /// [layer, head, chunk, KeyBand.index] (question: the query's own tokens)
    let mass: WorkerAccumulator<Double>
    /// Rows reduced, [layer, head, row slot]: `rowSlot`, with slot `chunks` for global query rows.
    let rowCount: WorkerAccumulator<Double>

    public init(stage: AttentionStage, rows: RowSelection, sinkWidth: Int = 100, recentWidth: Int = 100,
                binning: ChunkBinning = .absolute, layers: Int, heads: Int, chunks: Int) {
        self.stage = stage; self.rows = rows; self.sinkWidth = sinkWidth; self.recentWidth = recentWidth
        self.binning = binning; self.layers = layers; self.heads = heads; self.chunks = chunks
        mass = WorkerAccumulator(Shape(layers, heads, chunks, 4))
        rowCount = WorkerAccumulator(Shape(layers, heads, chunks + 1))
    }

    public func start(scope: ObservationScope, workers: Int) {
        seenChunks.formUnion(scope.chunkIDs)
        mass.begin(workers: workers); rowCount.begin(workers: workers)
    }
    public func wants(isQuery: Bool) -> Bool { isQuery == rows.isQuery }
    public func end() { mass.end(); rowCount.end() }

    /// Band edges of a chunk span [a, a+L): (sinkEnd, recentStart).
    @inline(__always) func edges(_ a: Int, _ L: Int) -> (Int, Int) {
        let s = min(sinkWidth, L)
        return (a + s, a + max(L - recentWidth, s))
    }

    public func observe(_ b: AttentionBlock) {
        let sc = b.scope
        let acc = mass.slot(b.worker), cnt = rowCount.slot(b.worker)
        let M = mass.shape, N = rowCount.shape
        for i in 0..<b.rowCount where rows.contains(b, i) {
            guard let slot = b.rowSlot(i, globalSlot: chunks) else { continue }
            let p = b.row(i), k0 = b.keyStart
            @inline(__always) func sum(_ lo: Int, _ hi: Int) -> Double {
                guard lo < hi else { return 0 }
                let r = b.scoredKeys(i, in: lo..<hi)
                return r.isEmpty ? 0 : Double(VectorMath.sum(p + (r.lowerBound - k0), r.count))
            }
            cnt[N(b.layer, b.head, slot)] += 1
            if b.isQuery {
                for (j, span) in sc.chunkSpans.enumerated() {
                    let (se, rs) = edges(span.lowerBound, span.count)
                    let c = sc.chunkIDs[j]
                    acc[M(b.layer, b.head, c, KeyBand.sink.index)] += sum(span.lowerBound, se)
                    acc[M(b.layer, b.head, c, KeyBand.middle.index)] += sum(se, rs)
                    acc[M(b.layer, b.head, c, KeyBand.recent.index)] += sum(rs, span.upperBound)
                }
                // The query's own tokens: slot 0 of a global pass, the chunk of a local one.
                acc[M(b.layer, b.head, slot == chunks ? 0 : slot, KeyBand.question.index)] += sum(sc.queryKeyStart, Int.max)
            } else {
                let key = b.firstRow + i
                let j = sc.spanIndex(ofKey: key)!
                let span = sc.chunkSpans[j], c = slot
                let L = binning == .absolute ? span.count : key - span.lowerBound + 1
                let (se, rs) = edges(span.lowerBound, L)
                // A context row sees only its own chunk and its probabilities sum to 1, so the
                // middle is what the sink and recent bands leave: O(S + R) per row, not O(keys).
                let sink = sum(span.lowerBound, se), recent = sum(rs, span.lowerBound + L)
                acc[M(b.layer, b.head, c, KeyBand.sink.index)] += sink
                acc[M(b.layer, b.head, c, KeyBand.middle.index)] += (b.maxProb[i] > 0 ? 1 : 0) - sink - recent
                acc[M(b.layer, b.head, c, KeyBand.recent.index)] += recent
            }
        }
    }

    /// Mean mass [layer, head, chunk, band(sink, middle, recent)]; NaN where no row saw the chunk.
    public func bandMass() -> [Float] {
        let out = Shape(layers, heads, chunks, 3), M = mass.shape, N = rowCount.shape
        var v = [Float](repeating: .nan, count: out.count)
        for l in 0..<layers {
            for h in 0..<heads {
                for c in 0..<chunks {
                    let n = rowCount.total[N(l, h, stage != .local && rows.isQuery ? chunks : c)]
                    // A global pass sees only the kept chunks: leave the others NaN.
                    guard n > 0, stage == .local || !rows.isQuery || seenChunks.contains(c) else { continue }
                    for band in KeyBand.chunkBands { v[out(l, h, c, band.index)] = Float(mass.total[M(l, h, c, band.index)] / n) }
                }
            }
        }
        return v
    }

    private var seenChunks = Set<Int>()

    /// Mean mass of query rows on the query's own tokens: [layer, head, chunk] for local passes
    /// (each chunk's question), [layer, head] for global.
    public func queryMass() -> [Float] {
        let out = Shape(layers, heads, stage != .local ? 1 : chunks), M = mass.shape, N = rowCount.shape
        var v = [Float](repeating: .nan, count: out.count)
        for l in 0..<layers {
            for h in 0..<heads {
                for s in 0..<out.dims[2] {
                    let n = rowCount.total[N(l, h, stage != .local ? chunks : s)]
                    guard n > 0 else { continue }
                    v[out(l, h, s)] = Float(mass.total[M(l, h, s, KeyBand.question.index)] / n)
                }
            }
        }
        return v
    }
}
