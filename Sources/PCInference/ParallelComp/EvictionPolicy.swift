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
    /// ... by the one compression after the question prefill (`stage_eviction`), for decoding.
    public var stageCompression: [Int]
    /// Keys above lambda found by calibration, before head equalisation padding.
    public var outliersQuery: [Int]
    public var outliersChunk: [Int]

    public init(layers: Int, heads: Int) {
        self.layers = layers; self.heads = heads
        let z = Array(repeating: 0, count: layers * heads)
        calibrationChunk = z; calibrationQuery = z; compression = z; outliersQuery = z; outliersChunk = z; stageCompression = z
    }
}

/// SnapKV applied to one chunk (the paper's parallel KV-cache compression; spec section 3.1):
/// the last `window` question rows score every key, the candidates' scores are max-pooled over
/// neighbouring candidates (kernel `kernel`, -inf beyond the candidates), and each head keeps its
/// `budget` best candidates (ties: the lower index wins).
public struct SnapKVCompression: EvictionPolicy {
    public let settings: ParallelCompConfig.Compression
    public var name: String { "snapkv(capacity \(settings.capacity), window \(settings.window), kernel \(settings.kernel))" }

    public init(_ s: ParallelCompConfig.Compression) { settings = s }

    /// Candidate keys kept, ascending, given one head's summed scores over the chunk pass's keys.
    public func kept(scores: ArraySlice<Float>, candidates: Range<Int>, budget: Int) -> [Int] {
        let s = Array(scores)
        return keptPositions(candidates.map { s[$0] }, budget: budget).map { $0 + candidates.lowerBound }
    }

    /// Positions kept among candidates given in sequence order with their scores: max-pooling
    /// runs along that sequence (-inf beyond it), the `budget` best stay, ties to the lower.
    public func keptPositions(_ s: [Float], budget: Int) -> [Int] {
        let n = s.count
        guard budget < n else { return Array(0..<n) }
        let half = settings.kernel / 2
        var pooled = [Float](repeating: 0, count: n)
        for i in 0..<n {
            var m = -Float.infinity
            for j in max(0, i - half)...min(n - 1, i + half) { m = max(m, s[j]) }
            pooled[i] = m
        }
        let order = (0..<n).sorted { pooled[$0] != pooled[$1] ? pooled[$0] > pooled[$1] : $0 < $1 }
        return order.prefix(max(0, budget)).sorted()
    }
}

/// The band of keys a calibration rule looks in.
public enum CalibrationBands {
    /// Whether candidate `i` of `n` lies in `band` (width w).
    public static func contains(_ band: CalibrationRule.Band, index i: Int, count n: Int, width w: Int,
                                edges: ParallelCompConfig.BandEdges = .official) -> Bool {
        switch (band, edges) {
        case (.all, _): return true
        case (.sink, _): return i < w
        case (.recent, .official): return i > n - w
        case (.middle, .official): return i > w && i < n - w
        case (.recent, .tiled): return i >= max(n - w, min(w, n))
        case (.middle, .tiled): return i >= min(w, n) && i < max(n - w, min(w, n))
        }
    }
}

/// Attention calibration (R_H eviction; spec section 4.2): in its layers, the keys of a band whose
/// attention from the last r question rows exceeds lambda (strictly) are evicted; with head
/// equalisation every head then evicts as many keys as the head with the most, topping up with
/// its lowest-attention candidates.
public struct AttentionCalibration: EvictionPolicy {
    public let lambda: Float, width: Int, equalizeHeads: Bool, edges: ParallelCompConfig.BandEdges
    public var name: String { "calibration(lambda \(lambda), band width \(width))" }

    public init(lambda: Float, width: Int, equalizeHeads: Bool, edges: ParallelCompConfig.BandEdges = .official) {
        self.lambda = lambda; self.width = width; self.equalizeHeads = equalizeHeads; self.edges = edges
    }

    /// One key that may be evicted: its index in the cache, and its position for the band test
    /// (its index in the cache as the official code holds it: keys evicted earlier are gone).
    public struct Candidate: Sendable, Equatable {
        public var key: Int, position: Int
        public init(key: Int, position: Int) { self.key = key; self.position = position }
    }

    /// Per head: the keys to evict. Band positions are tested against the number of candidates,
    /// as the official code does (spec sections 4.2, 4.5); `scores[h][k]` is key k's score.
    /// Returns (evicted keys per head, ascending; outliers above lambda per head).
    public func select(scores: [[Float]], band: CalibrationRule.Band, candidates: [[Candidate]]) -> ([[Int]], [Int]) {
        var sel: [[Int]] = candidates.enumerated().map { h, cand in
            cand.filter { c in
                CalibrationBands.contains(band, index: c.position, count: cand.count, width: width, edges: edges) && scores[h][c.key] > lambda
            }.map(\.key)
        }
        let outliers = sel.map(\.count)
        if equalizeHeads, let e = sel.map(\.count).max(), e > 0 {
            for h in sel.indices where sel[h].count < e {
                let taken = Set(sel[h])
                let low = candidates[h].map(\.key).filter { !taken.contains($0) }
                    .sorted { scores[h][$0] != scores[h][$1] ? scores[h][$0] < scores[h][$1] : $0 < $1 }
                sel[h] += low.prefix(e - sel[h].count)
            }
        }
        return (sel.map { $0.sorted() }, outliers)
    }

    /// The head-agnostic variant (spec section 4.4): a key's score is its mean over heads, and
    /// every candidate above lambda is evicted from every head (no band, no equalisation needed).
    public func selectAcrossHeads(scores: [[Float]], candidates: [[Candidate]]) -> ([[Int]], [Int]) {
        let H = max(1, scores.count)
        let sel: [[Int]] = candidates.map { cand in
            cand.filter { c in scores.reduce(0) { $0 + $1[c.key] } / Float(H) > lambda }.map(\.key)
        }
        return (sel, sel.map(\.count))
    }
}
