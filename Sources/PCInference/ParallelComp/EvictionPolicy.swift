/// A rule that removes keys from a chunk's or the combined cache, per layer and query head.
/// One type per policy, behind one protocol (as kvpress does).
public protocol EvictionPolicy {
    var name: String { get }
}

/// What eviction removed: key counts per (layer, head), for traces and plots.
public struct EvictionLog: Codable, Sendable {
    public var layers: Int, heads: Int
    /// [layer * heads + head] keys evicted by calibration at the chunk stage (summed over chunks).
    public var calibrationChunk: [Int]
    /// ... at the question prefill.
    public var calibrationQuery: [Int]
    /// ... by per-chunk compression (summed over kept chunks).
    public var compression: [Int]
    /// Keys above lambda found by calibration, before head equalisation padding.
    public var outliersQuery: [Int]
    public var outliersChunk: [Int]

    public init(layers: Int, heads: Int) {
        self.layers = layers; self.heads = heads
        let z = Array(repeating: 0, count: layers * heads)
        calibrationChunk = z; calibrationQuery = z; compression = z; outliersQuery = z; outliersChunk = z
    }
}

/// SnapKV applied to one chunk (the paper's parallel KV-cache compression): the last `window`
/// question rows score every context key, scores are max-pooled over neighbouring keys, and each
/// head keeps its `capacity` best context keys.
public struct SnapKVCompression: EvictionPolicy {
    public let settings: ParallelCompConfig.Compression
    public var name: String { "snapkv(capacity \(settings.capacity), window \(settings.window), kernel \(settings.kernel))" }

    public init(_ s: ParallelCompConfig.Compression) { settings = s }

    /// Keys to evict among context keys [0, contextLength), given one head's summed scores.
    public func evicted(scores: ArraySlice<Float>, contextLength c: Int) -> [Int] {
        guard c > settings.capacity else { return [] }
        let s = Array(scores.prefix(c))
        let half = settings.kernel / 2
        var pooled = [Float](repeating: 0, count: c)
        for i in 0..<c {
            var m = -Float.infinity
            for j in max(0, i - half)...min(c - 1, i + half) { m = max(m, s[j]) }
            pooled[i] = m
        }
        // Keep the top `capacity` by pooled score (ties: the earlier key wins, deterministically).
        let order = (0..<c).sorted { pooled[$0] != pooled[$1] ? pooled[$0] > pooled[$1] : $0 < $1 }
        return Array(order[settings.capacity...]).sorted()
    }
}

/// The band of keys a calibration rule looks in.
public enum CalibrationBands {
    /// Keys of `band` among [0, n): sink = first w, recent = last w, middle = between.
    public static func contains(_ band: CalibrationRule.Band, key k: Int, count n: Int, width w: Int) -> Bool {
        switch band {
        case .all: return true
        case .sink: return k < min(w, n)
        case .recent: return k >= max(n - w, min(w, n))
        case .middle: return k >= min(w, n) && k < max(n - w, min(w, n))
        }
    }
}

/// Attention calibration (R_H eviction): in its layers, keys of a band whose mean attention
/// from the last r question rows exceeds lambda are evicted for every later question row.
public struct AttentionCalibration: EvictionPolicy {
    public let lambda: Float, width: Int, equalizeHeads: Bool
    public var name: String { "calibration(lambda \(lambda), band width \(width))" }

    public init(lambda: Float, width: Int, equalizeHeads: Bool) { self.lambda = lambda; self.width = width; self.equalizeHeads = equalizeHeads }

    /// Per head: the keys to evict among the `n` candidate keys, given scores [heads][n] and
    /// keys already evicted (never chosen again). Returns (evicted per head, outliers per head).
    public func select(scores: [[Float]], band: CalibrationRule.Band, candidates n: Int, alreadyEvicted: [Set<Int>]) -> ([[Int]], [Int]) {
        var sel: [[Int]] = scores.enumerated().map { h, s in
            (0..<n).filter { k in !alreadyEvicted[h].contains(k) && CalibrationBands.contains(band, key: k, count: n, width: width) && s[k] > lambda }
        }
        let outliers = sel.map(\.count)
        if equalizeHeads, let e = sel.map(\.count).max(), e > 0 {
            // Official code: heads with fewer outliers also drop their lowest-scoring keys so that
            // every head keeps the same number of keys.
            for h in sel.indices where sel[h].count < e {
                let taken = Set(sel[h]).union(alreadyEvicted[h])
                let low = (0..<n).filter { !taken.contains($0) }.sorted { scores[h][$0] != scores[h][$1] ? scores[h][$0] < scores[h][$1] : $0 < $1 }
                sel[h] += low.prefix(e - sel[h].count)
            }
        }
        return (sel.map { $0.sorted() }, outliers)
    }
}
