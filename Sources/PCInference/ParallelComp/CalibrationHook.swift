/// Runs attention calibration inside a forward pass: before a covered layer's attention, score
/// the candidate keys with the last r question rows, then evict the outliers for the question.
final class CalibrationHook: AttentionHook {
    let rules: [CalibrationRule]
    let policy: AttentionCalibration
    let rows: Int
    let kernel: AttentionKernel
    /// Keys [0, candidates) may be evicted (the chunk's context, or the combined chunks).
    let candidates: Int
    /// Key index just past the pass's last row.
    let passEndKey: Int
    private(set) var evicted: [Int]     // [layer * H + head]
    private(set) var outliers: [Int]
    let heads: Int

    init(rules: [CalibrationRule], policy: AttentionCalibration, rows: Int, kernel: AttentionKernel,
         candidates: Int, passEndKey: Int, layers: Int, heads: Int) {
        self.rules = rules; self.policy = policy; self.rows = max(1, rows); self.kernel = kernel
        self.candidates = candidates; self.passEndKey = passEndKey; self.heads = heads
        evicted = Array(repeating: 0, count: layers * heads); outliers = evicted
    }

    func beforeAttention(layer: Int, q: UnsafePointer<Float>, rows T: Int, cache: KVCache, layout: AttentionLayout, firstRowKey: Int) throws {
        let active = rules.filter { $0.layers.contains(layer) }
        guard !active.isEmpty, firstRowKey + T == passEndKey, candidates > 0 else { return }
        let r = min(rows, T)
        let H = heads, d = kernel.config.headDim
        let keyStart = layout.segments.last?.keyStart ?? 0
        let obs = LayerKeyScores(heads: H, keys: firstRowKey + T)
        let scope = ObservationScope(stage: .global, chunkSpans: [], chunkIDs: [], queryKeyStart: firstRowKey + T - r,
                                     queryRowStart: firstRowKey + T - r, queryRowCount: r, firstRowKey: firstRowKey + T - r)
        _ = obs.begin(scope: scope, workers: kernel.workers)
        var scratch = [Float](repeating: 0, count: r * H * d)
        scratch.withUnsafeMutableBufferPointer { sp in
            kernel.run(layer: layer, q: q + (T - r) * H * d, rows: r, cache: cache,
                       layout: AttentionLayout(segments: [.init(rows: 0..<r, keyStart: keyStart)]),
                       firstRowKey: firstRowKey + T - r, out: sp.baseAddress!, observers: [obs], scope: scope)
        }
        obs.end()
        let scores: [[Float]] = (0..<H).map { h in obs.scores(head: h, count: candidates).map { $0 / Float(r) } }
        for rule in active {
            let already: [Set<Int>] = (0..<H).map { h in
                guard let m = cache.keepMasks[layer][h] else { return [] }
                return Set((0..<min(candidates, m.count)).filter { m[$0] == 0 })
            }
            let (sel, out) = policy.select(scores: scores, band: rule.band, candidates: candidates, alreadyEvicted: already)
            for h in 0..<H {
                cache.evict(layer: layer, head: h, keys: sel[h])
                evicted[layer * H + h] += sel[h].count
                outliers[layer * H + h] += out[h]
            }
        }
    }
}

/// Summed probabilities per key over the rows of one kernel call (one layer).
final class LayerKeyScores: AttentionObserver, @unchecked Sendable {
    let heads: Int, keys: Int
    private var partial: [UnsafeMutablePointer<Float>] = []
    private var total: [Float] = []
    init(heads: Int, keys: Int) { self.heads = heads; self.keys = keys }
    deinit { partial.forEach { $0.deallocate() } }
    func begin(scope: ObservationScope, workers: Int) -> Bool {
        while partial.count < workers { partial.append(.allocate(capacity: heads * keys)) }
        for p in partial { p.update(repeating: 0, count: heads * keys) }
        return true
    }
    func wants(isQuery: Bool) -> Bool { isQuery }
    func observe(_ b: AttentionBlock) {
        let dst = partial[b.worker] + b.head * keys + b.keyStart
        for i in 0..<b.rowCount {
            let p = b.row(i)
            for k in 0..<min(b.visibleKeys(i), keys - b.keyStart) { dst[k] += p[k] }
        }
    }
    func end() {
        total = Array(repeating: 0, count: heads * keys)
        for p in partial { for i in 0..<total.count { total[i] += p[i] } }
    }
    func scores(head: Int, count: Int) -> [Float] { Array(total[(head * keys)..<(head * keys + min(count, keys))]) }
}
