import Foundation

/// The state of decode-time eviction (`kv_cache_dynamic`, spec section 3.3): per layer and query
/// head, the keys it still sees, in the column order the official code keeps them in, and the
/// attention of the last `window` rows over them.
public final class DecodeEvictionState {
    public let window: Int, kernel: Int
    public let layers: Int, heads: Int
    /// [layer * heads + head]: cache key per column.
    public private(set) var columns: [[Int]]
    /// [layer * heads + head]: window x columns.count, row-major (oldest row first).
    public private(set) var rows: [[Float]]

    public init(window: Int, kernel: Int, layers: Int, heads: Int, columns: [[Int]], rows: [[Float]]) {
        self.window = window; self.kernel = kernel; self.layers = layers; self.heads = heads; self.columns = columns; self.rows = rows
    }

    /// One decoding step for one (layer, head), after the new token (cache key `newKey`) has
    /// attended with probabilities `p` over cache keys: append its row and column (the older
    /// rows get 0 there), forget the oldest row, score the columns but the last `window` by the
    /// rows' sum, and keep the best `capacity - window` of them plus the last `window`.
    /// Returns the evicted cache keys.
    public func step(layer: Int, head: Int, newKey: Int, p: UnsafePointer<Float>) -> [Int] {
        let x = layer * heads + head, w = window
        let cols = columns[x] + [newKey], n = cols.count
        // The cache stays at the size the question prefill left (official new_capacity).
        let policy = DecodeTimeEviction(window: w, kernel: kernel, capacity: n - 1)
        let old = rows[x], oldN = n - 1
        // The last w rows of the (w + 1) x n matrix: old rows 1..<w padded with 0, then the new row.
        var m = [Float](repeating: 0, count: w * n)
        for r in 0..<(w - 1) { for j in 0..<oldN { m[r * n + j] = old[(r + 1) * oldN + j] } }
        for j in 0..<n { m[(w - 1) * n + j] = p[cols[j]] }
        let candidates = max(0, n - w)
        var sums = [Float](repeating: 0, count: candidates)
        for r in 0..<w { for j in 0..<candidates { sums[j] += m[r * n + j] } }
        // Columns are the policy's key space here: candidate j is column j.
        let sel = policy.select(EvictionInput(scores: [sums], candidates: [(0..<candidates).map { EvictionCandidate(key: $0, position: $0) }]))
        let keep = sel.keptByScore[0] + Array(candidates..<n)
        columns[x] = keep.map { cols[$0] }
        rows[x] = (0..<w).flatMap { r in keep.map { m[r * n + $0] } }
        return sel.evicted[0].map { cols[$0] }
    }
}

extension DecodeEvictionState: DecodeStepEvicting {
    public func step(layer: Int, newKey: Int, row: (Int) -> ArraySlice<Float>) -> [[Int]] {
        (0..<heads).map { h in row(h).withUnsafeBufferPointer { step(layer: layer, head: h, newKey: newKey, p: $0.baseAddress!) } }
    }
}

/// The last row of a decoding step, per layer and head, over the cache's keys.
final class DecodeRowObserver: StageObserver, @unchecked Sendable {
    let stage = AttentionStage.decode
    let layers: Int, heads: Int
    private(set) var keys = 0
    private var probs: [Float] = []
    init(layers: Int, heads: Int) { self.layers = layers; self.heads = heads }
    func start(scope: ObservationScope, workers: Int) {
        keys = scope.firstRowKey + scope.queryRowCount
        probs = [Float](repeating: 0, count: layers * heads * keys)
    }
    /// [layer, head, key] of this step.
    private var keyShape: Shape { Shape(layers, heads, keys) }
    func wants(isQuery: Bool) -> Bool { isQuery }
    var watchesChunkPasses: Bool { false }
    /// The block's last row, added to zeros: a copy.
    func observe(_ b: AttentionBlock) {
        let o = keyShape(b.layer, b.head, 0)
        probs.withUnsafeMutableBufferPointer { dst in
            b.addKeyMass(fromRow: b.firstRow + b.rowCount - 1, into: dst.baseAddress! + o, keyCount: keys)
        }
    }
    func row(layer: Int, head: Int) -> ArraySlice<Float> {
        let o = keyShape(layer, head, 0)
        return probs[o..<(o + keys)]
    }
}

/// Stores, at the question prefill, what decode-time eviction starts from: the softmax of the
/// last `window` question rows over every key the head sees. On the per-chunk SnapKV path the
/// official code computes them apart from flash-attention with no mask at all (`_update_kv_input`,
/// Q11); after `stage_eviction` it keeps the window that compression computed, causal inside its
/// last w x w block (`_update_kv_second_prefill`). It changes nothing in the pass itself.
final class DecodeEvictionHook: AttentionHook {
    let window: Int
    let passEndKey: Int, headDim: Int, heads: Int, kvHeads: Int
    /// Row r of the window sees keys up to its own (the stage_eviction path).
    let causalWindow: Bool
    private(set) var columns: [[Int]] = []
    private(set) var rows: [[Float]] = []

    init(window: Int, passEndKey: Int, causalWindow: Bool, config: ModelConfig) {
        self.window = window; self.passEndKey = passEndKey; self.causalWindow = causalWindow
        headDim = config.headDim; heads = config.headCount; kvHeads = config.kvHeadCount
    }

    /// The decode-time state over the keys each head still sees once the question prefill and any
    /// compression after it are done: the window's probabilities gathered at those keys, not
    /// renormalised, columns in cache order (the official gather of sorted indices).
    func state(window w: Int, kernel: Int, layers: Int, isPresent: (Int, Int, Int) -> Bool) -> DecodeEvictionState {
        var cols: [[Int]] = [], kept: [[Float]] = []
        for x in columns.indices {
            let l = x / heads, h = x % heads, n = columns[x].count
            let keep = columns[x].indices.filter { isPresent(l, h, columns[x][$0]) }
            cols.append(keep.map { columns[x][$0] })
            kept.append((0..<w).flatMap { r in keep.map { rows[x][r * n + $0] } })
        }
        return DecodeEvictionState(window: w, kernel: kernel, layers: layers, heads: heads, columns: cols, rows: kept)
    }

    func beforeAttention(layer: Int, q: UnsafePointer<Float>, rows T: Int, cache: KVCache, layout: AttentionLayout, firstRowKey: Int) throws {
        guard firstRowKey + T == passEndKey else { return }
        let w = min(window, T), d = headDim, scale = 1 / Float(d).squareRoot()
        for h in 0..<heads {
            let keys = (0..<passEndKey).filter { cache.isPresent(layer: layer, head: h, key: $0) }
            var m = [Float](repeating: 0, count: w * keys.count)
            let g = h / (heads / kvHeads)
            for r in 0..<w {
                let qr = q + ((T - w + r) * heads + h) * d
                // Causal window: row r is key passEndKey - w + r and sees no later key.
                let last = causalWindow ? passEndKey - w + r : passEndKey - 1
                var mx = -Float.infinity
                for (j, k) in keys.enumerated() where k <= last {
                    let kp = cache.keyRow(layer: layer, kvHead: g, key: k)
                    var s: Float = 0
                    for i in 0..<d { s += qr[i] * kp[i] }
                    m[r * keys.count + j] = s * scale
                    mx = max(mx, s * scale)
                }
                var z: Float = 0
                for (j, k) in keys.enumerated() {
                    let e = k <= last ? expf(m[r * keys.count + j] - mx) : 0
                    m[r * keys.count + j] = e; z += e
                }
                for j in 0..<keys.count { m[r * keys.count + j] /= z }
            }
            columns.append(keys); rows.append(m)
        }
    }
}
