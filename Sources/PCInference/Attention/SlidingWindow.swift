/// Sliding-window attention: on a local layer, query i does not see key j when
/// pos_i − pos_j ≥ window (RoPE positions, so chunks that restart at 0 keep their own distances).
public enum LayerKind: String, Sendable, Codable {
    case global, local
}

extension ModelConfig {
    /// The attention window of a layer; nil when it sees every key its layout allows.
    public func attentionWindow(layer: Int) -> Int? { gemma3?.window(ofLayer: layer) }
    public func layerKind(_ layer: Int) -> LayerKind { attentionWindow(layer: layer) == nil ? .global : .local }
}

/// Key positions of a cache, flattened once per kernel call on a windowed layer, and the rules that
/// turn them into each row block's first visible key and per-row masks.
struct SlidingWindow {
    let window: Int
    /// Position of every key index 0..<count.
    let pos: [Int32]
    /// Where the run of keys whose positions rise by one per key, ending at each key, begins.
    let runStart: [Int32]

    init(window: Int, cache: KVCache, keys count: Int) {
        self.window = window
        var p = [Int32](repeating: 0, count: count)
        var off = 0
        for sl in cache.slices where off < count {
            let n = min(sl.count, count - off)
            for j in 0..<n { p[off + j] = sl.block.positions[sl.start + j] }
            off += n
        }
        pos = p
        var rs = [Int32](repeating: 0, count: count)
        for j in 1..<max(1, count) { rs[j] = p[j] == p[j - 1] + 1 ? rs[j - 1] : Int32(j) }
        runStart = rs
    }

    /// The first key in [keyStart, lastKey] that any row of rowKeys may see: scoring starts there,
    /// so keys older than every row's window cost nothing. Where positions rise by one per key (a
    /// plain causal run) this is arithmetic; otherwise (a combined cache of chunks) a scan.
    func firstVisibleKey(keyStart: Int, lastKey: Int, rowKeys: Range<Int>) -> Int {
        var minPos = Int32.max
        for r in rowKeys { minPos = min(minPos, pos[r]) }
        let limit = Int(minPos) - window   // visible iff pos_j > limit
        let ks = keyStart
        if Int(runStart[lastKey]) <= ks {
            return min(lastKey, max(ks, ks + limit + 1 - Int(pos[ks])))
        }
        var j = ks
        while j < lastKey && Int(pos[j]) <= limit { j += 1 }
        return j
    }

    /// Hide (−∞) the keys of one score row that fall outside the window of the row at `rowKey`.
    /// Scores start at key `keyStart`; `valid` of them are causally visible.
    func mask(_ row: UnsafeMutablePointer<Float>, rowKey: Int, keyStart: Int, valid: Int) {
        let limit = Int(pos[rowKey]) - window
        for c in 0..<valid where Int(pos[keyStart + c]) <= limit { row[c] = -.infinity }
    }
}
