import CQuant
import Foundation

/// One `AttentionKernel.run` call: what every work item of the pass shares (the layer's cache
/// slices, eviction masks and alignment shifts, the window, the observers), and the steps one
/// item goes through, in order: `stackQueries`, `scoreBlock`, `maskAndSoftmax` (with
/// `alignEvictions` under bottom-right alignment), `observe`, `multiplyValues`, `writeOutput`.
/// Each step works in the worker's `Scratch`, allocated once per kernel and only grown.
struct KernelPass: @unchecked Sendable {
    let layer: Int, d: Int, G: Int
    let q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
    /// [T, H, d]: the layout of q and out.
    let rowShape: Shape
    let firstRowKey: Int
    let slices: [KVSlice]
    /// Per head: the cache's keep mask (0 evicted before the pass, 1 kept, 2 evicted during it).
    let masks: [[UInt8]?]
    let maskRowStart: Int
    /// Per head: keys evicted during this pass (mask value 2). Under bottom-right alignment they
    /// shift what every row of the pass sees (see `EvictionAlignment`).
    let shift: [Int]
    let window: SlidingWindow?
    let scale: Float
    let observers: [AttentionObserver], scope: ObservationScope?
    let needEntropy: Bool

    init(config c: ModelConfig, layer: Int, q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, rows T: Int, firstRowKey: Int,
         cache: KVCache, window: SlidingWindow?, observers: [AttentionObserver], scope: ObservationScope?) {
        self.layer = layer; d = c.headDim; G = c.groupSize
        self.q = q; self.out = out; rowShape = Shape(T, c.headCount, c.headDim); self.firstRowKey = firstRowKey
        slices = cache.slices
        masks = cache.keepMasks[layer]
        maskRowStart = cache.maskRowStart
        shift = cache.alignment == .bottomRight && cache.hasPendingEvictions
            ? masks.map { m in m.map { $0.reduce(0) { $0 + ($1 == 2 ? 1 : 0) } } ?? 0 }
            : Array(repeating: 0, count: masks.count)
        self.window = window
        scale = c.gemma3?.queryScale ?? 1 / Float(c.headDim).squareRoot()
        self.observers = observers; self.scope = scope
        needEntropy = observers.contains { $0.needsEntropy }
    }

    /// One work item's sizes: its Bc rows of each of its heads stacked into M = heads x Bc score
    /// rows over the nK keys keyStart ... lastKey. Score row slot * Bc + i is head
    /// g * G + heads[slot], row rows.lowerBound + i.
    struct Tile {
        let it: AttentionKernel.Item
        let Bc: Int, M: Int, nK: Int, lastKey: Int
        /// Key index of the item's first row, and of all its rows.
        let firstRow: Int, rowKeys: Range<Int>
        /// [heads, Bc, d]: the stacked query rows and the output rows O in the scratch.
        let stack: Shape
        init(_ it: AttentionKernel.Item, firstRowKey: Int, headDim d: Int) {
            self.it = it
            Bc = it.rows.count; M = it.heads.count * Bc
            lastKey = firstRowKey + it.rows.upperBound - 1
            nK = lastKey + 1 - it.keyStart
            firstRow = firstRowKey + it.rows.lowerBound
            rowKeys = firstRow..<(firstRowKey + it.rows.upperBound)
            stack = Shape(it.heads.count, Bc, d)
        }
        /// The query head of a slot.
        @inline(__always) func head(_ slot: Int, groupSize G: Int) -> Int { it.g * G + it.heads.lowerBound + slot }
    }

    func compute(_ it: AttentionKernel.Item, scratch s: AttentionKernel.Scratch, worker: Int) {
        let t = Tile(it, firstRowKey: firstRowKey, headDim: d)
        s.ensure(scores: t.M * t.nK, q: t.M * d, rows: t.M)
        stackQueries(t, s)
        scoreBlock(t, s)
        maskAndSoftmax(t, s)
        if let scope, !observers.isEmpty { observe(t, s, worker: worker, scope: scope) }
        multiplyValues(t, s)
        writeOutput(t, s)
    }

    /// Qg [M, d]: the item's query rows, stacked so K and V are read once per KV group.
    func stackQueries(_ t: Tile, _ s: AttentionKernel.Scratch) {
        for slot in 0..<t.it.heads.count {
            let h = t.head(slot, groupSize: G)
            for i in 0..<t.Bc {
                (s.q + t.stack(slot, i, 0)).update(from: q + rowShape(t.it.rows.lowerBound + i, h, 0), count: d)
            }
        }
    }

    /// The keys of one cache slice [lo, hi) an item scores: on a sliding-window layer, from the
    /// slice's first key visible to any of the item's rows.
    @inline(__always) func firstScoredKey(_ lo: Int, _ hi: Int, _ t: Tile) -> Int {
        guard let window, lo < hi else { return lo }
        return window.firstVisibleKey(keyStart: lo, lastKey: hi - 1, rowKeys: t.rowKeys)
    }

    /// Calls `body(slice, lo, hi, off)` for each cache slice holding keys the item scores,
    /// [lo, hi) in key indices, `off` the slice's first key index.
    /// `fromSlice` skips the slices before it (`SharedKeyRows` has scored them already).
    @inline(__always) func forEachSlice(_ t: Tile, fromSlice: Int = 0, _ body: (KVSlice, Int, Int, Int) -> Void) {
        var off = 0
        for (i, sl) in slices.enumerated() {
            let lo0 = max(off, t.it.keyStart), hi = min(off + sl.count, t.lastKey + 1)
            if i >= fromSlice { body(sl, lo0, hi, off) }
            off += sl.count
            if off > t.lastKey { break }
        }
    }

    /// S [M, nK] = Qg K^T * scale, one sgemm per cache slice in range (a decode row, one per head,
    /// uses the plain loop of `cq_attn_scores`: sgemm would mostly pack K). Keys a window skips at
    /// the start of a slice get -inf, as the window mask would give them.
    func scoreBlock(_ t: Tile, _ s: AttentionKernel.Scratch, fromSlice: Int = 0) {
        let nK = t.nK, ks = t.it.keyStart
        forEachSlice(t, fromSlice: fromSlice) { sl, lo0, hi, off in
            let lo = firstScoredKey(lo0, hi, t)
            if lo > lo0 {
                for r in 0..<t.M { (s.scores + r * nK + (lo0 - ks)).update(repeating: -.infinity, count: lo - lo0) }
            }
            guard lo < hi else { return }
            let kp = sl.block.keys(layer: layer, head: t.it.g) + (sl.start + lo - off) * d
            if t.Bc == 1 {
                cq_attn_scores(s.q, Int32(t.M), Int32(d), kp, Int32(hi - lo), scale, s.scores + (lo - ks), Int32(nK))
            } else {
                BLAS.gemm(m: t.M, n: hi - lo, k: d, a: s.q, lda: d, b: kp, ldb: d, bTransposed: true,
                          c: s.scores + (lo - ks), ldc: nK, alpha: scale)
            }
        }
    }

    /// Exact softmax per row over its visible keys; evicted and windowed-out keys get -inf first,
    /// so probability 0. The rows keep the unnormalised exponentials (P·V runs on them) and
    /// maxP holds 1/Z, which goes on the d-wide output row: the same arithmetic whether or not
    /// anyone observes.
    func maskAndSoftmax(_ t: Tile, _ s: AttentionKernel.Scratch) {
        let ks = t.it.keyStart, nK = t.nK
        for slot in 0..<t.it.heads.count {
            let h = t.head(slot, groupSize: G)
            let mask = masks[h], e = shift[h]
            // Keys evicted in the pass that a window put before the item's first scored key:
            // present there but not survivors, so each gives the rows one survivor back (the
            // same for every row of the item; counted once).
            var evictedBefore = 0
            if let m = mask, e > 0, t.it.segmentKeyStart < ks {
                for k in t.it.segmentKeyStart..<min(ks, m.count) where m[k] == 2 { evictedBefore += 1 }
            }
            for i in 0..<t.Bc {
                let r = slot * t.Bc + i, rowKey = t.firstRow + i
                let row = s.scores + r * nK
                let valid = rowKey + 1 - ks
                if let m = mask, rowKey >= maskRowStart {
                    if e == 0 {
                        let end = min(m.count, ks + valid)
                        if end > ks {
                            m.withUnsafeBufferPointer { mb in
                                for k in ks..<end where mb[k] != 1 { row[k - ks] = -.infinity }
                            }
                        }
                    } else {
                        alignEvictions(row, mask: m, keyStart: ks, last: ks + valid, shift: e, evictedBefore: evictedBefore)
                    }
                }
                if let window { window.mask(row, rowKey: rowKey, keyStart: ks, valid: valid) }
                softmax(row, r, valid: valid, keys: nK, s)
            }
        }
    }

    /// Bottom-right alignment of the keys evicted during the pass (`EvictionAlignment`): the row
    /// sees the first (present keys of its segment up to its own) - e survivors, counted from the
    /// segment's first key; before keyStart that count is (present - survivors) = evictedBefore.
    /// Every other key of [keyStart, last) gets -inf.
    @inline(__always) func alignEvictions(_ row: UnsafeMutablePointer<Float>, mask m: [UInt8], keyStart ks: Int, last: Int,
                                          shift e: Int, evictedBefore: Int) {
        m.withUnsafeBufferPointer { mb in
            var present = 0
            for k in ks..<last where k >= mb.count || mb[k] != 0 { present += 1 }
            var allowed = present + evictedBefore - e
            for k in ks..<last {
                let v: UInt8 = k < mb.count ? mb[k] : 1
                if v == 1 && allowed > 0 { allowed -= 1 } else { row[k - ks] = -.infinity }
            }
        }
    }

    /// Score row r -> exp(x - max) over its `valid` keys, zeros after; maxP[r] = 1/Z and the
    /// entropy when asked. A row whose every visible key is masked attends to nothing (all zero).
    @inline(__always) func softmax(_ row: UnsafeMutablePointer<Float>, _ r: Int, valid: Int, keys nK: Int, _ s: AttentionKernel.Scratch) {
        let mx = VectorMath.max(row, valid)
        if mx == -.infinity {
            row.update(repeating: 0, count: nK); s.maxP[r] = 0
            if needEntropy { s.entropy[r] = 0 }
            return
        }
        let (z, ez) = VectorMath.expShifted(row, valid, shift: mx, withEntropy: needEntropy)
        let inv = 1 / z
        if valid < nK { (row + valid).update(repeating: 0, count: nK - valid) }
        s.maxP[r] = inv
        if needEntropy { s.entropy[r] = Float(Foundation.log(Double(z))) - ez * inv }
    }

    /// Observers see the normalised probabilities, in a copy, one block per query head.
    func observe(_ t: Tile, _ s: AttentionKernel.Scratch, worker: Int, scope: ObservationScope) {
        let nK = t.nK
        s.ensureProbs(t.M * nK)
        for r in 0..<t.M {
            let src = s.scores + r * nK, dst = s.probs + r * nK
            dst.update(from: src, count: nK)
            VectorMath.scale(dst, nK, by: s.maxP[r])
        }
        let isQuery = t.firstRow >= scope.queryRowStart
        for slot in 0..<t.it.heads.count {
            let block = AttentionBlock(
                layer: layer, head: t.head(slot, groupSize: G), worker: worker, scope: scope, isQuery: isQuery,
                firstRow: t.firstRow, rowCount: t.Bc, keyStart: t.it.keyStart,
                probs: s.probs + slot * t.Bc * nK, ld: nK,
                entropy: needEntropy ? UnsafePointer(s.entropy + slot * t.Bc) : nil,
                maxProb: s.maxP + slot * t.Bc)
            for o in observers where o.wants(isQuery: isQuery) { o.observe(block) }
        }
    }

    /// O [M, d] = P V, accumulated over the slices: decode rows through `cq_attn_pv`, blocks of
    /// rows through `cq_attn_pv_rows` (P read in place, not packed as sgemm would; sgemm stays
    /// for a head size that is not a multiple of 16 and on CPUs without AVX2).
    /// `first`: whether O is still to be started (false when `SharedKeyRows` began it).
    func multiplyValues(_ t: Tile, _ s: AttentionKernel.Scratch, fromSlice: Int = 0, first start: Bool = true) {
        let nK = t.nK, ks = t.it.keyStart
        var first = start
        forEachSlice(t, fromSlice: fromSlice) { sl, lo0, hi, off in
            let lo = firstScoredKey(lo0, hi, t)
            guard lo < hi else { return }
            let vp = sl.block.values(layer: layer, head: t.it.g) + (sl.start + lo - off) * d
            if t.Bc == 1 {
                cq_attn_pv(s.scores + (lo - ks), Int32(nK), Int32(t.M), Int32(hi - lo), vp, Int32(d), s.o, first ? 0 : 1)
            } else if cq_attn_pv_rows(s.scores + (lo - ks), Int32(nK), Int32(t.M), Int32(hi - lo), vp, Int32(d), s.o, Int32(d),
                                      first ? 0 : 1) != 0 {
                // Declined (no SIMD kernel on this CPU, or d not a multiple of 16): sgemm.
                BLAS.gemm(m: t.M, n: d, k: hi - lo, a: s.scores + (lo - ks), lda: nK,
                          b: vp, ldb: d, bTransposed: false, c: s.o, ldc: d, beta: first ? 0 : 1)
            }
            first = false
        }
    }

    /// out rows of the item's heads = O / Z.
    func writeOutput(_ t: Tile, _ s: AttentionKernel.Scratch) {
        for slot in 0..<t.it.heads.count {
            let h = t.head(slot, groupSize: G)
            for i in 0..<t.Bc {
                let dst = out + rowShape(t.it.rows.lowerBound + i, h, 0)
                dst.update(from: s.o + t.stack(slot, i, 0), count: d)
                VectorMath.scale(dst, d, by: s.maxP[slot * t.Bc + i])
            }
        }
    }
}
