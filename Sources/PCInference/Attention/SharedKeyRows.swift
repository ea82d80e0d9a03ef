import CQuant
import Foundation

/// Decode rows of several sequences whose caches begin with the same slices: the lab's points,
/// forks of one prefilled context or combinations of the same held chunks, each step one row per
/// point (`LlamaModel.decodeRows`). Run alone, every row streams the shared keys and values from
/// memory again. Here each row still goes through its own `KernelPass` steps, but the shared
/// slices are scored and multiplied in key blocks small enough to stay in cache while every row
/// takes its turn over the block. `cq_attn_scores` groups keys by four from the start of the range
/// it is given and `cq_attn_pv` (64-lane chunks) accumulates key by key through its output, so
/// blocks that start at multiples of four give every row the same bits as one call over the
/// slice (`DecodeRowsTests`).
extension AttentionKernel {
    struct SharedRow {
        let q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
        let cache: KVCache
        let firstRowKey: Int
    }

    /// Attention for one decode row per entry of `rows`. Returns false, computing nothing, when
    /// the rows share no slice or differ in how they cut their work (the caller runs each alone).
    func runSharedRows(layer: Int, rows: [SharedRow]) -> Bool {
        guard rows.count > 1, config.headDim % 64 == 0 else { return false }
        let lead = rows[0].cache.slices
        var shared = lead.count
        for r in rows.dropFirst() {
            let other = r.cache.slices
            var n = 0
            while n < min(shared, other.count), other[n].block === lead[n].block, other[n].start == lead[n].start,
                  other[n].count == lead[n].count { n += 1 }
            shared = n
        }
        guard shared > 0 else { return false }
        let passes = rows.map { r -> (KernelPass, [Item]) in
            let window = config.attentionWindow(layer: layer).map { SlidingWindow(window: $0, cache: r.cache, keys: r.firstRowKey + 1) }
            let pass = KernelPass(config: config, layer: layer, q: r.q, out: r.out, rows: 1, firstRowKey: r.firstRowKey, cache: r.cache,
                                  window: window, observers: [], scope: nil)
            return (pass, workItems(rows: 1, layout: .causal(rows: 1), firstRowKey: r.firstRowKey, scope: nil, window: window))
        }
        let items = passes[0].1
        guard passes.allSatisfy({ p in
            p.1.count == items.count && zip(p.1, items).allSatisfy { $0.g == $1.g && $0.heads == $1.heads && $0.keyStart == $1.keyStart }
        }) else { return false }
        for w in 0..<workers where rowScratch[w].count < rows.count {
            rowScratch[w] += (rowScratch[w].count..<rows.count).map { _ in Scratch() }
        }
        let counter = LockedBox(0), firstKeys = rows.map(\.firstRowKey), sharedCount = shared
        let work: @Sendable (Int) -> Void = { [self] w in
            while true {
                var idx = 0
                counter.update { idx = $0; $0 += 1 }
                if idx >= items.count { break }
                sharedItem(passes.map { ($0.0, $0.1[idx]) }, firstRowKeys: firstKeys, sharedSlices: sharedCount, scratch: rowScratch[w])
            }
        }
        let nWorkers = min(workers, items.count)
        if nWorkers <= 1 { work(0) } else { WorkerPool.run(nWorkers, work) }
        sharedRowLayers += 1
        return true
    }

    /// A shared slice's scored keys: [lo0, hi) in range, scoring from lo (a window may start it later).
    typealias SharedRange = (sl: KVSlice, lo0: Int, lo: Int, hi: Int, off: Int)

    /// One work item (a KV group, or one head of it) for every row: the steps of
    /// `KernelPass.compute`, the shared slices' scores and values taken block by block across rows.
    private func sharedItem(_ rows: [(KernelPass, Item)], firstRowKeys: [Int], sharedSlices: Int, scratch: [Scratch]) {
        let d = config.headDim
        let tiles = rows.indices.map { KernelPass.Tile(rows[$0].1, firstRowKey: firstRowKeys[$0], headDim: d) }
        // Each shared slice's scored range, per row; rows that see a slice differently (a window)
        // take the item on their own.
        let ranges = rows.indices.map { i -> [SharedRange] in
            var mine: [SharedRange] = []
            rows[i].0.forEachSlice(tiles[i]) { sl, lo0, hi, off in
                if mine.count < sharedSlices { mine.append((sl, lo0, rows[i].0.firstScoredKey(lo0, hi, tiles[i]), hi, off)) }
            }
            return mine
        }
        let together = ranges.allSatisfy { $0.count == sharedSlices } && (0..<sharedSlices).allSatisfy { j in
            ranges.allSatisfy { $0[j].lo0 == ranges[0][j].lo0 && $0[j].lo == ranges[0][j].lo && $0[j].hi == ranges[0][j].hi }
        }
        guard together else {
            for (i, (pass, item)) in rows.enumerated() { pass.compute(item, scratch: scratch[i], worker: 0) }
            return
        }
        for (i, (pass, _)) in rows.enumerated() {
            scratch[i].ensure(scores: tiles[i].M * tiles[i].nK, q: tiles[i].M * d, rows: tiles[i].M)
            pass.stackQueries(tiles[i], scratch[i])
        }
        let g = rows[0].1.g, layer = rows[0].0.layer
        scoreShared(ranges[0], tiles: tiles, scratch: scratch, layer: layer, group: g, scale: rows[0].0.scale)
        for (i, (pass, _)) in rows.enumerated() {
            pass.scoreBlock(tiles[i], scratch[i], fromSlice: sharedSlices)
            pass.maskAndSoftmax(tiles[i], scratch[i])
        }
        let begun = multiplyShared(ranges[0], tiles: tiles, scratch: scratch, layer: layer, group: g)
        for (i, (pass, _)) in rows.enumerated() {
            pass.multiplyValues(tiles[i], scratch[i], fromSlice: sharedSlices, first: !begun)
            pass.writeOutput(tiles[i], scratch[i])
        }
    }

    /// Keys per block of the shared slices: 16 KB of keys (a multiple of four, see above).
    private var sharedKeyBlock: Int { max(4, (16_384 / config.headDim) & ~3) }

    /// Every row's scores over the shared slices, one key block at a time across the rows; keys a
    /// window skips at a slice's start get -inf, as `scoreBlock` gives them.
    private func scoreShared(_ ranges: [SharedRange], tiles: [KernelPass.Tile], scratch: [Scratch], layer: Int, group g: Int,
                             scale: Float) {
        let d = config.headDim
        for r in ranges {
            for (i, t) in tiles.enumerated() where r.lo > r.lo0 {
                for m in 0..<t.M { (scratch[i].scores + m * t.nK + (r.lo0 - t.it.keyStart)).update(repeating: -.infinity, count: r.lo - r.lo0) }
            }
            guard r.lo < r.hi else { continue }
            let kp = r.sl.block.keys(layer: layer, head: g) + (r.sl.start + r.lo - r.off) * d
            for j0 in stride(from: r.lo, to: r.hi, by: sharedKeyBlock) {
                let j1 = min(j0 + sharedKeyBlock, r.hi)
                for (i, t) in tiles.enumerated() {
                    cq_attn_scores(scratch[i].q, Int32(t.M), Int32(d), kp + (j0 - r.lo) * d, Int32(j1 - j0), scale,
                                   scratch[i].scores + (j0 - t.it.keyStart), Int32(t.nK))
                }
            }
        }
    }

    /// Every row's O over the shared slices' values, block by block across the rows. Returns
    /// whether O was begun (false when no shared key is visible).
    private func multiplyShared(_ ranges: [SharedRange], tiles: [KernelPass.Tile], scratch: [Scratch], layer: Int, group g: Int) -> Bool {
        let d = config.headDim
        var begun = false
        for r in ranges where r.lo < r.hi {
            let vp = r.sl.block.values(layer: layer, head: g) + (r.sl.start + r.lo - r.off) * d
            for j0 in stride(from: r.lo, to: r.hi, by: sharedKeyBlock) {
                let j1 = min(j0 + sharedKeyBlock, r.hi)
                for (i, t) in tiles.enumerated() {
                    cq_attn_pv(scratch[i].scores + (j0 - t.it.keyStart), Int32(t.nK), Int32(t.M), Int32(j1 - j0), vp + (j0 - r.lo) * d,
                               Int32(d), scratch[i].o, begun ? 1 : 0)
                }
                begun = true
            }
        }
        return begun
    }
}
