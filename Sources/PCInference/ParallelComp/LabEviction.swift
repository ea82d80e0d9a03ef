import Foundation

/// The eviction lab inside the pipeline (docs/eviction-lab.md): its observers for one pass, its
/// selection per KV head, and the kvpress setting (one causal context compressed after its own
/// prefill, before the question).
extension ParallelCompPipeline {
    /// The observers a lab policy needs in a pass of `rows` rows: its scoring signal (the pass's
    /// last rows, or every row for H2O) and the question rows' attention for the band log.
    func labObservers(_ lab: EvictionLabSettings, questionRows m: Int) -> (score: KeyScoreObserver?, mass: KeyScoreObserver) {
        let c = model.config
        var score: KeyScoreObserver?
        if case .attention(let rows) = lab.signal {
            score = KeyScoreObserver(stage: .local, lastRows: rows ?? max(1, m), layers: c.layerCount, heads: c.headCount,
                                     allRows: rows == nil, tailRows: rows)
        }
        return (score, KeyScoreObserver(stage: .local, lastRows: max(1, m), layers: c.layerCount, heads: c.headCount))
    }

    /// Evict a lab policy's keys from one pass's cache: candidates are keys `first ..< cLen`
    /// (`m` question keys follow them), the protected sink and recent candidates stay, the policy
    /// ranks the rest and selects per KV head (per query head with `perQueryHead`).
    func labEvict(_ lab: EvictionLabSettings, cache: KVCache, chunkID id: Int, cLen: Int, m: Int, first: Int, compressed: inout [Int],
                  scores: KeyScoreObserver?, mass: KeyScoreObserver, _ st: RunState) -> [[[Int]]] {
        let c = model.config, H = c.headCount
        let n = cLen - first, ranked = lab.ranked(candidates: n)
        let signal = labSignal(lab.signal, cache: cache, scores: scores, keys: cLen + m)
        return evictChunk(cache, cLen: cLen, m: m, first: first, compressed: &compressed, plan: { l in
            let keep = lab.kept(layer: l, layers: c.layerCount, candidates: n) - (n - ranked.count)
            return (lab.policy(keep: max(0, keep), salt: UInt64(id * c.layerCount + l), group: c.groupSize), ranked)
        }, signal: signal, select: { policy, ranked, scores in
            lab.select(policy as! BudgetedPolicy, ranked: ranked, first: first, passEnd: cLen + m, scores: scores, group: c.groupSize)
        }, record: { l, evicted in
            st.bands?.record(chunk: id, layer: l, first: first, n: n, m: m,
                             scores: (0..<H).map { Array(mass.scores(layer: l, head: $0)) }, evicted: evicted)
        })
    }

    /// The kvpress setting: the one chunk (`--causal`) is prefilled alone, the lab policy evicts
    /// from its cache with what that pass saw (no question yet, as kvpress compresses a context
    /// before its question), and the cache becomes the combined cache the question reads.
    func compressContext(_ st: RunState, observers: [AttentionObserver], progress: ((Event) -> Void)?) throws {
        guard let lab = config.evictionLab, st.chunks.count == 1 else { throw ConfigError("the kvpress setting needs --policy and --causal (one chunk)") }
        let c = model.config, ch = st.chunks[0], cLen = ch.contextLength
        let t0 = Date()
        progress?(.chunkStarted(index: 0, total: 1, tokens: cLen))
        let cache = model.makeCache()
        let scope = ObservationScope(stage: .local, chunkSpans: [0..<cLen], chunkIDs: [ch.id], queryKeyStart: cLen,
                                     queryRowStart: cLen, queryRowCount: 0, firstRowKey: 0)
        let obs = labObservers(lab, questionRows: 0)
        _ = try model.forwardHidden(tokens: ch.tokens, positions: Array(0..<cLen), cache: cache, layout: .causal(rows: cLen),
                                    observers: observers + [obs.score, obs.mass].compactMap { $0 }, scope: scope, stageName: "context prefill")
        cache.settleEvictions()
        var compressed = Array(repeating: 0, count: c.layerCount * c.headCount)
        let kept = labEvict(lab, cache: cache, chunkID: ch.id, cLen: cLen, m: 0, first: 0, compressed: &compressed,
                            scores: obs.score, mass: obs.mass, st)
        st.combined = cache
        st.chunks[0].kept = true
        st.kept = [0]
        st.spans = [0..<cLen]
        st.labKept[String(ch.id)] = kept
        for x in compressed.indices { st.log.compression[x] += compressed[x] }
        st.queryPosition = cLen
        st.nominalS = cLen
        st.cachePerLayer = (0..<c.layerCount).map { cache.keptCount(layer: $0, head: 0) }
        progress?(.chunkFinished(index: 0, total: 1, tokens: cLen, nll: .nan))
        st.timings["chunk_prefill_s"] = Date().timeIntervalSince(t0)
    }
}

extension KVCache {
    /// Key/value pairs stored for keys `0 ..< end`: per layer and KV head, the keys any query head
    /// of its group still sees (under GQA a KV head stores the union of its query heads' keys).
    public func storedPairs(before end: Int) -> Int {
        let G = queryHeads / kvHeads
        var total = 0
        for l in 0..<layers {
            for g in 0..<kvHeads {
                for k in 0..<min(end, count) where (0..<G).contains(where: { isPresent(layer: l, head: g * G + $0, key: k) }) { total += 1 }
            }
        }
        return total
    }
}
