/// Eviction during decoding: once a generated token has attended, each head of a layer may drop
/// keys so that its cache keeps a fixed budget. The official `kv_cache_dynamic`
/// (`DecodeEvictionState`) and the lab's TOVA and H2O (`LabDecodeEvictionState`) both step
/// through this protocol, so the decode loop does not know which one runs.
public protocol DecodeStepEvicting: AnyObject {
    var layers: Int { get }
    var heads: Int { get }
    /// One step for one layer: the new token is cache key `newKey`, and `row(h)` is its attention
    /// over the cache's keys for query head h, indexed by key from the slice's start (0 for keys
    /// the head no longer sees). Returns the keys each head evicts.
    func step(layer: Int, newKey: Int, row: (Int) -> ArraySlice<Float>) -> [[Int]]
}

/// A lab policy that evicts during decoding (`--decode-eviction`): it scores every candidate key
/// from what the state hands it (the new token's attention, or the attention accumulated so far)
/// and keeps `keep` of them; the last `recent` keys are not candidates.
public protocol DecodeStepPolicy: EvictionPolicy {
    var keep: Int { get }
    /// The most recent keys each head keeps whatever their scores (H2O's recent window).
    var recent: Int { get }
    /// Scores are attention summed over every row seen so far (H2O), not the new row's alone (TOVA).
    var accumulates: Bool { get }
}

public extension DecodeStepPolicy {
    var rule: EvictionRule { .keepTop(keep) }
}

/// The lab's decode-time eviction: per layer and query head, the keys it still sees (cache order)
/// and its budget (the keys it saw when the question prefill ended, so the cache keeps that size,
/// as the official `kv_cache_dynamic` does); for an accumulating policy, each key's attention
/// summed over the question's rows and every generated token so far.
public final class LabDecodeEvictionState: DecodeStepEvicting {
    public let layers: Int, heads: Int
    /// The policy that keeps `keep` candidates (the state asks for the keep it needs each step).
    public let policy: (_ keep: Int) -> any DecodeStepPolicy
    /// [layer * heads + head]: the keys the head still sees, ascending.
    public private(set) var present: [[Int]]
    /// [layer * heads + head]: keys the head keeps.
    public let budget: [Int]
    /// [layer * heads + head]: accumulated attention by cache key (accumulating policies only).
    public private(set) var accumulated: [[Float]]

    public init(layers: Int, heads: Int, present: [[Int]], accumulated: [[Float]]? = nil, policy: @escaping (_ keep: Int) -> any DecodeStepPolicy) {
        self.layers = layers; self.heads = heads; self.present = present; self.policy = policy
        budget = present.map(\.count)
        self.accumulated = accumulated ?? Array(repeating: [], count: present.count)
    }

    public func step(layer: Int, newKey: Int, row: (Int) -> ArraySlice<Float>) -> [[Int]] {
        let H = heads, probe = policy(0)
        var scores: [[Float]] = [], cand: [[EvictionCandidate]] = []
        for h in 0..<H {
            let x = layer * H + h, r = row(h), base = r.startIndex
            func p(_ k: Int) -> Float { k < r.count ? r[base + k] : 0 }
            present[x].append(newKey)
            if probe.accumulates {
                if accumulated[x].count <= newKey { accumulated[x] += Array(repeating: 0, count: newKey + 1 - accumulated[x].count) }
                for k in present[x] { accumulated[x][k] += p(k) }
                scores.append(accumulated[x])
            } else {
                scores.append((0...newKey).map(p))
            }
            cand.append(present[x].dropLast(min(probe.recent, present[x].count)).map { EvictionCandidate(key: $0, position: $0) })
        }
        // One scoring for the layer (TOVA averages over its heads), then each head keeps what its
        // budget leaves after the protected recent keys.
        let scored = probe.score(EvictionInput(scores: scores, candidates: cand))
        var gone: [[Int]] = []
        for h in 0..<H {
            let x = layer * H + h
            let keep = max(0, budget[x] - (present[x].count - cand[h].count))
            guard cand[h].count > keep else { gone.append([]); continue }
            let one = ScoredCandidates(keys: [scored.keys[h]], scores: [scored.scores[h]])
            let evicted = policy(keep).rule.select(one).evicted[0]
            let drop = Set(evicted)
            present[x].removeAll { drop.contains($0) }
            gone.append(evicted)
        }
        return gone
    }
}
