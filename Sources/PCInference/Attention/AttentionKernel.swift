import Foundation

/// Exact attention over an `AttentionLayout`, one row block at a time.
///
/// For each KV head g and block of rows, the query rows of g's whole head group are stacked so
/// K and V are read once per group (GQA). Scores for the block against the keys it may see are
/// one sgemm per cache slice, the softmax is exact (row max, exp, sum), observers see the
/// probabilities, and P·V reads the probabilities in place (`cq_attn_pv_rows`; sgemm would pack
/// the whole score block first). A decode row, one per head, uses the plain loops of
/// `cq_attn_scores`/`cq_attn_pv` instead: sgemm would spend its time packing. Nothing larger than
/// (group x block rows) x visible keys is ever held, so memory is linear in the context.
/// `run` cuts the pass into work items (`workItems`); `KernelPass` holds the steps of one item.
public final class AttentionKernel: @unchecked Sendable {
    public let config: ModelConfig
    public let workers: Int
    /// Upper bound on the score block, in floats per worker (64 MB).
    let maxScoreFloats = 16 << 20
    private var scratch: [Scratch]
    /// Per worker, one scratch per row of a shared-key decode step (`runSharedRows`), grown on demand.
    var rowScratch: [[Scratch]]
    /// Layers run through `runSharedRows` so far (tests check that the shared path was taken).
    public internal(set) var sharedRowLayers = 0

    final class Scratch {
        var scores = UnsafeMutablePointer<Float>.allocate(capacity: 1), scoresCap = 1
        /// Normalised probabilities for observers (a copy, so P.V is computed the same way
        /// whether or not anyone watches).
        var probs = UnsafeMutablePointer<Float>.allocate(capacity: 1), probsCap = 1
        var q = UnsafeMutablePointer<Float>.allocate(capacity: 1), qCap = 1
        var o = UnsafeMutablePointer<Float>.allocate(capacity: 1), oCap = 1
        var entropy = UnsafeMutablePointer<Float>.allocate(capacity: 1), maxP = UnsafeMutablePointer<Float>.allocate(capacity: 1), rowCap = 1
        func ensure(scores n: Int, q nq: Int, rows: Int) {
            if n > scoresCap { scores.deallocate(); scores = .allocate(capacity: n); scoresCap = n }
            if nq > qCap { q.deallocate(); o.deallocate(); q = .allocate(capacity: nq); o = .allocate(capacity: nq); qCap = nq; oCap = nq }
            if rows > rowCap { entropy.deallocate(); maxP.deallocate(); entropy = .allocate(capacity: rows); maxP = .allocate(capacity: rows); rowCap = rows }
        }
        func ensureProbs(_ n: Int) {
            if n > probsCap { probs.deallocate(); probs = .allocate(capacity: n); probsCap = n }
        }
        deinit { scores.deallocate(); probs.deallocate(); q.deallocate(); o.deallocate(); entropy.deallocate(); maxP.deallocate() }
    }

    public init(config: ModelConfig, workers: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)) {
        self.config = config
        self.workers = max(1, workers)
        scratch = (0..<self.workers).map { _ in Scratch() }
        rowScratch = Array(repeating: [], count: self.workers)
    }

    /// Work item: rows of the heads `heads` (indices within group g) against the keys from keyStart
    /// (later than the segment's own first key, segmentKeyStart, when a window hides the keys between).
    struct Item: Sendable { let g: Int; let rows: Range<Int>; let keyStart: Int; let segmentKeyStart: Int; var heads: Range<Int> }

    /// Attention for the T new rows of one layer.
    /// - q: [T, H*d] post-RoPE queries; out: [T, H*d].
    /// - The new rows' keys must already be in `cache`, at `firstRowKey ..< firstRowKey+T`.
    public func run(layer: Int, q: UnsafePointer<Float>, rows T: Int, cache: KVCache, layout: AttentionLayout,
                    firstRowKey: Int, out: UnsafeMutablePointer<Float>,
                    observers: [AttentionObserver], scope: ObservationScope?) {
        let window = config.attentionWindow(layer: layer).map { SlidingWindow(window: $0, cache: cache, keys: firstRowKey + T) }
        let items = workItems(rows: T, layout: layout, firstRowKey: firstRowKey, scope: scope, window: window)
        let pass = KernelPass(config: config, layer: layer, q: q, out: out, rows: T, firstRowKey: firstRowKey, cache: cache,
                              window: window, observers: observers, scope: scope)
        let counter = LockedBox(0)
        let work: @Sendable (Int) -> Void = { [self] w in
            let s = scratch[w]
            while true {
                var idx = 0
                counter.update { idx = $0; $0 += 1 }
                if idx >= items.count { break }
                pass.compute(items[idx], scratch: s, worker: w)
            }
        }
        let nWorkers = min(workers, items.count)
        if nWorkers <= 1 {
            work(0)
        } else {
            WorkerPool.run(nWorkers, work)   // OpenBLAS stays single-threaded inside each worker
        }
    }

    /// The pass cut into work items: per KV group, each segment's rows in blocks of up to 64 rows
    /// (fewer when the key range is very long), cut where the query rows begin so a block is all
    /// context or all query rows; on a sliding-window layer each block starts scoring at its first
    /// visible key (see `SlidingWindow`).
    func workItems(rows T: Int, layout: AttentionLayout, firstRowKey: Int, scope: ObservationScope?,
                   window: SlidingWindow?) -> [Item] {
        let G = config.groupSize
        let blockRows = max(1, min(64, maxScoreFloats / max(1, G * (firstRowKey + T))))
        let splitRow = scope.map { $0.queryRowStart - firstRowKey }
        var items: [Item] = []
        for g in 0..<config.kvHeadCount {
            for seg in layout.segments {
                var cuts = [seg.rows.lowerBound, seg.rows.upperBound]
                if let s = splitRow, seg.rows.contains(s), s > seg.rows.lowerBound { cuts.insert(s, at: 1) }
                for p in 0..<(cuts.count - 1) {
                    var r = cuts[p]
                    while r < cuts[p + 1] {
                        let e = min(r + blockRows, cuts[p + 1])
                        let ks = window?.firstVisibleKey(keyStart: seg.keyStart, lastKey: firstRowKey + e - 1,
                                                         rowKeys: (firstRowKey + r)..<(firstRowKey + e)) ?? seg.keyStart
                        items.append(Item(g: g, rows: r..<e, keyStart: ks, segmentKeyStart: seg.keyStart, heads: 0..<G))
                        r = e
                    }
                }
            }
        }
        // A decode row of few groups leaves workers idle (SmolLM2: 3 groups on 2 workers; Gemma 3
        // 270M: 1): give each head its own item. Every head's row is computed the same either way.
        if T == 1 && items.count < 2 * workers && G > 1 {
            items = items.flatMap { it in (0..<G).map { hh in Item(g: it.g, rows: it.rows, keyStart: it.keyStart, segmentKeyStart: it.segmentKeyStart, heads: hh..<(hh + 1)) } }
        }
        return items
    }
}
