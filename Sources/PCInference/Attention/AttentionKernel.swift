import CQuant
import Foundation

/// Exact attention over an `AttentionLayout`, one row block at a time.
///
/// For each KV head g and block of rows, the query rows of g's whole head group are stacked so
/// K and V are read once per group (GQA). Scores for the block against the keys it may see are
/// one sgemm per cache slice, the softmax is exact (row max, exp, sum), observers see the
/// probabilities, and P·V is again one sgemm per slice (a decode row, one per head, uses the
/// plain loops of `cq_attn_scores`/`cq_attn_pv` instead: sgemm would spend its time packing). Nothing larger than
/// (group x block rows) x visible keys is ever held, so memory is linear in the context.
public final class AttentionKernel: @unchecked Sendable {
    public let config: ModelConfig
    public let workers: Int
    /// Upper bound on the score block, in floats per worker (64 MB).
    let maxScoreFloats = 16 << 20
    private var scratch: [Scratch]

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
    }

    /// Work item: rows of the heads `heads` (indices within group g) against the keys from keyStart
    /// (later than the segment's own first key, segmentKeyStart, when a window hides the keys between).
    struct Item { let g: Int; let rows: Range<Int>; let keyStart: Int; let segmentKeyStart: Int; var heads: Range<Int> }

    /// Attention for the T new rows of one layer.
    /// - q: [T, H*d] post-RoPE queries; out: [T, H*d].
    /// - The new rows' keys must already be in `cache`, at `firstRowKey ..< firstRowKey+T`.
    public func run(layer: Int, q: UnsafePointer<Float>, rows T: Int, cache: KVCache, layout: AttentionLayout,
                    firstRowKey: Int, out: UnsafeMutablePointer<Float>,
                    observers: [AttentionObserver], scope: ObservationScope?) {
        let c = config, d = c.headDim, G = c.groupSize, H = c.headCount
        let maxKeys = firstRowKey + T
        // Row block: up to 64 rows, fewer when the key range is very long.
        let blockRows = max(1, min(64, maxScoreFloats / max(1, G * maxKeys)))
        let splitRow = scope.map { $0.queryRowStart - firstRowKey }
        // Sliding-window layer: each block starts scoring at its first visible key (see SlidingWindow).
        let window = c.attentionWindow(layer: layer).map { SlidingWindow(window: $0, cache: cache, keys: maxKeys) }
        var items: [Item] = []
        for g in 0..<c.kvHeadCount {
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
        let needEntropy = observers.contains { $0.needsEntropy }
        let masks = cache.keepMasks[layer]
        let maskRowStart = cache.maskRowStart
        // Per head: keys evicted during this pass (mask value 2). Under bottom-right alignment
        // they shift what every row of the pass sees (see `EvictionAlignment`).
        let shift: [Int] = cache.alignment == .bottomRight && cache.hasPendingEvictions
            ? masks.map { m in m.map { $0.reduce(0) { $0 + ($1 == 2 ? 1 : 0) } } ?? 0 }
            : Array(repeating: 0, count: masks.count)
        let slices = cache.slices
        let scale = c.gemma3?.queryScale ?? 1 / Float(d).squareRoot()
        let counter = LockedBox(0)
        let nWorkers = min(workers, items.count)
        let todo = items
        let qp = SharedPointer(q), outp = SharedPointer(out)
        let work: @Sendable (Int) -> Void = { [self] w in
            let q = qp.p, out = outp.p, items = todo
            let s = scratch[w]
            while true {
                var idx = 0
                counter.update { idx = $0; $0 += 1 }
                if idx >= items.count { break }
                let it = items[idx]
                let Bc = it.rows.count
                let lastKey = firstRowKey + it.rows.upperBound - 1
                let nK = lastKey + 1 - it.keyStart
                let M = it.heads.count * Bc
                s.ensure(scores: M * nK, q: M * d, rows: M)
                // Stack the item's query rows: row slot*Bc + i is head g*G+heads[slot], row it.rows.lower+i.
                for (slot, hh) in it.heads.enumerated() {
                    let h = it.g * G + hh
                    for i in 0..<Bc {
                        (s.q + (slot * Bc + i) * d).update(from: q + (it.rows.lowerBound + i) * H * d + h * d, count: d)
                    }
                }
                // Scores S[M, nK] = Qg K^T / sqrt(d), one sgemm per cache slice in range.
                var off = 0
                // Sliding window: within each cache slice (a chunk's block) scoring starts at the block's
                // first visible key; the keys skipped before it get -inf, as the window mask would give them.
                let rowKeys = (firstRowKey + it.rows.lowerBound)..<(firstRowKey + it.rows.upperBound)
                func sliceStart(_ lo: Int, _ hi: Int) -> Int {
                    guard let window, lo < hi else { return lo }
                    return window.firstVisibleKey(keyStart: lo, lastKey: hi - 1, rowKeys: rowKeys)
                }
                for sl in slices {
                    let lo0 = max(off, it.keyStart), hi = min(off + sl.count, lastKey + 1)
                    let lo = sliceStart(lo0, hi)
                    if lo > lo0 {
                        for r in 0..<M { (s.scores + r * nK + (lo0 - it.keyStart)).update(repeating: -.infinity, count: lo - lo0) }
                    }
                    if lo < hi {
                        let kp = sl.block.keys(layer: layer, head: it.g) + (sl.start + lo - off) * d
                        if Bc == 1 {   // decode: one row per head; sgemm would mostly pack K
                            cq_attn_scores(s.q, Int32(M), Int32(d), kp, Int32(hi - lo), scale, s.scores + (lo - it.keyStart), Int32(nK))
                        } else {
                            BLAS.gemm(m: M, n: hi - lo, k: d, a: s.q, lda: d, b: kp, ldb: d, bTransposed: true,
                                      c: s.scores + (lo - it.keyStart), ldc: nK, alpha: scale)
                        }
                    }
                    off += sl.count
                    if off > lastKey { break }
                }
                // Exact softmax per row over its visible keys; evicted keys get probability 0.
                for (slot, hh) in it.heads.enumerated() {
                    let mask = masks[it.g * G + hh]
                    // Keys evicted in the pass that a window put before the item's first scored key:
                    // present there but not survivors, so each gives the rows one survivor back
                    // (the same for every row of the item; counted once).
                    var evictedBefore = 0
                    if let m = mask, shift[it.g * G + hh] > 0, it.segmentKeyStart < it.keyStart {
                        for k in it.segmentKeyStart..<min(it.keyStart, m.count) where m[k] == 2 { evictedBefore += 1 }
                    }
                    for i in 0..<Bc {
                        let r = slot * Bc + i
                        let row = s.scores + r * nK
                        let valid = firstRowKey + it.rows.lowerBound + i + 1 - it.keyStart
                        if let m = mask, firstRowKey + it.rows.lowerBound + i >= maskRowStart {
                            let end = min(m.count, it.keyStart + valid)
                            let e = shift[it.g * G + hh]
                            if e == 0 {
                                if end > it.keyStart {
                                    m.withUnsafeBufferPointer { mb in
                                        for k in it.keyStart..<end where mb[k] != 1 { row[k - it.keyStart] = -.infinity }
                                    }
                                }
                            } else {
                                // The row sees the first (present keys of its segment up to its own)
                                // - e survivors, counted from the segment's first key; before
                                // it.keyStart that count is (present - survivors) = evictedBefore.
                                let last = it.keyStart + valid
                                m.withUnsafeBufferPointer { mb in
                                    var present = 0
                                    for k in it.keyStart..<last where k >= mb.count || mb[k] != 0 { present += 1 }
                                    var allowed = present + evictedBefore - e
                                    for k in it.keyStart..<last {
                                        let v: UInt8 = k < mb.count ? mb[k] : 1
                                        if v == 1 && allowed > 0 { allowed -= 1 } else { row[k - it.keyStart] = -.infinity }
                                    }
                                }
                            }
                        }
                        if let window { window.mask(row, rowKey: firstRowKey + it.rows.lowerBound + i, keyStart: it.keyStart, valid: valid) }
                        let mx = VectorMath.max(row, valid)
                        if mx == -.infinity {   // every visible key evicted: the row attends to nothing
                            row.update(repeating: 0, count: nK); s.maxP[r] = 0
                            if needEntropy { s.entropy[r] = 0 }
                            continue
                        }
                        let (z, ez) = VectorMath.expShifted(row, valid, shift: mx, withEntropy: needEntropy)
                        let inv = 1 / z
                        // P.V runs on the unnormalised exponentials and 1/Z goes on the d-wide
                        // output row: the same arithmetic whether or not anyone observes.
                        if valid < nK { (row + valid).update(repeating: 0, count: nK - valid) }
                        s.maxP[r] = inv
                        if needEntropy { s.entropy[r] = Float(Foundation.log(Double(z))) - ez * inv }
                    }
                }
                if let scope, !observers.isEmpty {
                    // Observers see normalised probabilities, in a copy.
                    s.ensureProbs(M * nK)
                    for r in 0..<M {
                        let src = s.scores + r * nK, dst = s.probs + r * nK
                        dst.update(from: src, count: nK)
                        VectorMath.scale(dst, nK, by: s.maxP[r])
                    }
                    let firstRow = firstRowKey + it.rows.lowerBound
                    let isQuery = firstRow >= scope.queryRowStart
                    for (slot, hh) in it.heads.enumerated() {
                        let block = AttentionBlock(
                            layer: layer, head: it.g * G + hh, worker: w, scope: scope, isQuery: isQuery,
                            firstRow: firstRow, rowCount: Bc, keyStart: it.keyStart,
                            probs: s.probs + slot * Bc * nK, ld: nK,
                            entropy: needEntropy ? UnsafePointer(s.entropy + slot * Bc) : nil,
                            maxProb: s.maxP + slot * Bc)
                        for o in observers where o.wants(isQuery: isQuery) { o.observe(block) }
                    }
                }
                // O[M, d] = P V, accumulated over slices.
                off = 0
                var first = true
                for sl in slices {
                    let hi = min(off + sl.count, lastKey + 1), lo = sliceStart(max(off, it.keyStart), hi)
                    if lo < hi {
                        let vp = sl.block.values(layer: layer, head: it.g) + (sl.start + lo - off) * d
                        if Bc == 1 {
                            cq_attn_pv(s.scores + (lo - it.keyStart), Int32(nK), Int32(M), Int32(hi - lo), vp, Int32(d), s.o, first ? 0 : 1)
                        } else {
                            BLAS.gemm(m: M, n: d, k: hi - lo, a: s.scores + (lo - it.keyStart), lda: nK,
                                      b: vp, ldb: d, bTransposed: false, c: s.o, ldc: d, beta: first ? 0 : 1)
                        }
                        first = false
                    }
                    off += sl.count
                    if off > lastKey { break }
                }
                for (slot, hh) in it.heads.enumerated() {
                    let h = it.g * G + hh
                    for i in 0..<Bc {
                        let dst = out + (it.rows.lowerBound + i) * H * d + h * d
                        dst.update(from: s.o + (slot * Bc + i) * d, count: d)
                        VectorMath.scale(dst, d, by: s.maxP[slot * Bc + i])
                    }
                }
            }
        }
        if nWorkers <= 1 {
            work(0)
        } else {
            WorkerPool.run(nWorkers, work)   // OpenBLAS stays single-threaded inside each worker
        }
    }
}
