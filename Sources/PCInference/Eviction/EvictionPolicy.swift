/// Token eviction as kvpress does it: each policy is one type that scores the keys that may go;
/// one shared selector (`EvictionRule.select`) turns scores into evicted keys, and the KV cache
/// (`KVCache.evict(layer:selection:...)`) is the one place that masks them.

/// A key that may be evicted: its index in the cache, and its position among the keys the
/// official code would hold at that moment (keys evicted earlier are physically gone there),
/// which is what band rules test.
public struct EvictionCandidate: Sendable, Equatable {
    public var key: Int, position: Int
    public init(key: Int, position: Int) { self.key = key; self.position = position }
}

/// What a policy sees in one layer.
public struct EvictionInput {
    /// Per head, each key's attention score, indexed by key (cache order).
    public var scores: [[Float]]
    /// Per head, the keys that may go, in cache order.
    public var candidates: [[EvictionCandidate]]
    /// Keys in the pass that produced the scores (the lab's SnapKV and TOVA keep the pass's last
    /// keys, their observation window, as their reference code does); nil: unknown.
    public var passEnd: Int?
    public init(scores: [[Float]], candidates: [[EvictionCandidate]], passEnd: Int? = nil) {
        self.scores = scores; self.candidates = candidates; self.passEnd = passEnd
    }
}

/// A policy's verdict material: per head, every candidate key with the score the rule compares,
/// and whether the rule may pick it as an outlier (calibration's band; true elsewhere).
public struct ScoredCandidates {
    public var keys: [[Int]]
    public var scores: [[Float]]
    public var eligible: [[Bool]]?
    public init(keys: [[Int]], scores: [[Float]], eligible: [[Bool]]? = nil) {
        self.keys = keys; self.scores = scores; self.eligible = eligible
    }
}

/// Which keys the selector removes, per head (ascending), and how many were outliers before
/// head equalisation (calibration only; zeros otherwise).
public struct EvictionSelection: Sendable, Equatable {
    public var evicted: [[Int]]
    public var outliers: [Int]
    /// For `keepTop`: the kept keys, best first (the order torch's topk returns them in, which
    /// decode-time eviction keeps as its column order).
    public var keptByScore: [[Int]] = []
    public init(evicted: [[Int]], outliers: [Int], keptByScore: [[Int]] = []) {
        self.evicted = evicted; self.outliers = outliers; self.keptByScore = keptByScore
    }
}

/// How scores become evictions.
public enum EvictionRule: Sendable, Equatable {
    /// Keep each head's `n` highest-scoring candidates (ties: the earlier key), evict the rest.
    case keepTop(Int)
    /// Evict each head's eligible candidates scoring strictly above lambda. With head
    /// equalisation, every head then evicts as many as the head with the most, topping up with
    /// its lowest-scoring remaining candidates (ties: the earlier key), as the official code does.
    case evictAbove(lambda: Float, equalizeHeads: Bool)

    public func select(_ s: ScoredCandidates) -> EvictionSelection {
        let H = s.keys.count
        switch self {
        case .keepTop(let n):
            var evicted: [[Int]] = [], kept: [[Int]] = []
            for h in 0..<H {
                let sc = s.scores[h], keys = s.keys[h]
                let order = keys.indices.sorted { sc[$0] != sc[$1] ? sc[$0] > sc[$1] : $0 < $1 }
                kept.append(order.prefix(max(0, n)).map { keys[$0] })
                evicted.append(order.dropFirst(max(0, n)).map { keys[$0] }.sorted())
            }
            return EvictionSelection(evicted: evicted, outliers: Array(repeating: 0, count: H), keptByScore: kept)
        case .evictAbove(let lambda, let equalize):
            var sel: [[Int]] = (0..<H).map { h in
                s.keys[h].indices.filter { (s.eligible?[h][$0] ?? true) && s.scores[h][$0] > lambda }.map { s.keys[h][$0] }
            }
            let outliers = sel.map(\.count)
            if equalize, let e = outliers.max(), e > 0 {
                for h in sel.indices where sel[h].count < e {
                    let taken = Set(sel[h])
                    let rest = s.keys[h].indices.filter { !taken.contains(s.keys[h][$0]) }
                        .sorted { s.scores[h][$0] != s.scores[h][$1] ? s.scores[h][$0] < s.scores[h][$1] : s.keys[h][$0] < s.keys[h][$1] }
                    sel[h] += rest.prefix(e - sel[h].count).map { s.keys[h][$0] }
                }
            }
            return EvictionSelection(evicted: sel.map { $0.sorted() }, outliers: outliers)
        }
    }
}

/// One eviction policy (SnapKV, calibration, stage eviction, decode-time eviction): it scores
/// the candidates; the rule and the cache do the rest.
public protocol EvictionPolicy: Sendable {
    var name: String { get }
    var rule: EvictionRule { get }
    func score(_ input: EvictionInput) -> ScoredCandidates
}

public extension EvictionPolicy {
    /// The keys this policy evicts in one layer.
    func select(_ input: EvictionInput) -> EvictionSelection { rule.select(score(input)) }

    /// The keys this policy evicts from a chunk whose candidate positions `ranked` (keys
    /// `first + i`) are the same for every head; `scores` holds one array per head.
    func select(ranked: Range<Int>, first: Int, scores: [[Float]]) -> EvictionSelection {
        let cand = scores.indices.map { _ in ranked.map { EvictionCandidate(key: first + $0, position: $0) } }
        return select(EvictionInput(scores: scores, candidates: cand))
    }
}

/// SnapKV's pooling (spec section 3.1): each candidate's score becomes the maximum over its
/// neighbours within `kernel` along the candidate sequence (-inf beyond it, as torch pads).
enum MaxPool {
    static func pooled(_ s: [Float], kernel: Int) -> [Float] {
        let n = s.count, half = kernel / 2
        var out = [Float](repeating: 0, count: n)
        for i in 0..<n {
            var m = -Float.infinity
            for j in max(0, i - half)...min(n - 1, i + half) { m = max(m, s[j]) }
            out[i] = m
        }
        return out
    }

    /// Per head: the candidates' raw scores, pooled along the candidate sequence.
    static func scored(_ input: EvictionInput, kernel: Int) -> ScoredCandidates {
        let keys = input.candidates.map { $0.map(\.key) }
        let scores = keys.enumerated().map { h, ks in
            pooled(ks.map { $0 < input.scores[h].count ? input.scores[h][$0] : 0 }, kernel: kernel)
        }
        return ScoredCandidates(keys: keys, scores: scores)
    }
}
