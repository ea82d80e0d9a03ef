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

    /// ExpectedAttention's query moments for a pass whose candidates are keys `rows` (nil for
    /// every other policy, so they cost nothing): the rows after the policy's sinks.
    func labMoments(_ lab: EvictionLabSettings, rows: Range<Int>) -> QueryMoments? {
        guard case .expectedAttention(let sink, _) = lab.signal else { return nil }
        let c = model.config, from = min(rows.lowerBound + sink, rows.upperBound)
        return QueryMoments(layers: c.layerCount, heads: c.headCount, headDim: c.headDim, rows: from..<rows.upperBound)
    }

    /// Evict a lab policy's keys from one pass's cache: candidates are keys `first ..< cLen`
    /// (`m` question keys follow them), the protected sink and recent candidates stay, the policy
    /// ranks the rest and selects per KV head (per query head with `perQueryHead`).
    func labEvict(_ lab: EvictionLabSettings, cache: KVCache, chunkID id: Int, cLen: Int, m: Int, first: Int, compressed: inout [Int],
                  scores: KeyScoreObserver?, moments: QueryMoments? = nil, mass: KeyScoreObserver, _ st: RunState) -> [[[Int]]] {
        let c = model.config, H = c.headCount
        let n = cLen - first, ranked = lab.ranked(candidates: n)
        let signal = labSignal(lab.signal, cache: cache, scores: scores, moments: moments, keys: cLen + m)
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

    /// The scoring signals of one context pass, enough for every lab in a list: one observer per
    /// distinct attention signal (keyed by its row count, nil for every row), ExpectedAttention's
    /// query moments per distinct sink count, and the question rows' mass for the band log (empty
    /// in the kvpress setting: no question yet).
    struct ContextSignals {
        var scores: [Int?: KeyScoreObserver] = [:]
        var moments: [Int: QueryMoments] = [:]
        let mass: KeyScoreObserver
        func score(for lab: EvictionLabSettings) -> KeyScoreObserver? {
            if case .attention(let rows) = lab.signal { return scores[rows] }
            return nil
        }
        func moments(for lab: EvictionLabSettings) -> QueryMoments? {
            if case .expectedAttention(let sink, _) = lab.signal { return moments[sink] }
            return nil
        }
        /// The pass's observers, in a fixed order (every row first, then by row count, the mass last).
        var watching: [AttentionObserver] { scores.keys.sorted { ($0 ?? -1) < ($1 ?? -1) }.compactMap { scores[$0] } + [mass] }
        var queryObservers: [QueryMoments] { moments.keys.sorted().compactMap { moments[$0] } }
    }

    /// One observer per distinct signal the `labs` read in a pass with `m` question rows whose
    /// eviction candidates are keys `candidates` (where ExpectedAttention's moments start).
    func contextSignals(_ labs: [EvictionLabSettings], questionRows m: Int, candidates: Range<Int>) -> ContextSignals {
        var signals = ContextSignals(mass: labObservers(labs[0], questionRows: m).mass)
        for lab in labs {
            if case .attention(let rows) = lab.signal, signals.scores[rows] == nil { signals.scores[rows] = labObservers(lab, questionRows: m).score }
            if case .expectedAttention(let sink, _) = lab.signal, signals.moments[sink] == nil { signals.moments[sink] = labMoments(lab, rows: candidates) }
        }
        return signals
    }

    /// The kvpress setting's context pass: the one chunk (`--causal`) prefilled alone, observed
    /// for every signal the `labs` read.
    func prefillContext(_ ch: Chunk, labs: [EvictionLabSettings], observers: [AttentionObserver]) throws -> (KVCache, ContextSignals) {
        let cLen = ch.contextLength
        let cache = model.makeCache()
        let scope = ObservationScope(stage: .local, chunkSpans: [0..<cLen], chunkIDs: [ch.id], queryKeyStart: cLen,
                                     queryRowStart: cLen, queryRowCount: 0, firstRowKey: 0)
        let signals = contextSignals(labs, questionRows: 0, candidates: 0..<cLen)
        _ = try model.forwardHidden(tokens: ch.tokens, positions: Array(0..<cLen), cache: cache, layout: .causal(rows: cLen),
                                    observers: observers + signals.watching, scope: scope,
                                    queryObservers: signals.queryObservers, stageName: "context prefill")
        cache.settleEvictions()
        return (cache, signals)
    }

    /// The kvpress setting's eviction: the lab policy evicts from the prefilled context cache with
    /// what that pass saw (no question yet, as kvpress compresses a context before its question),
    /// and the cache becomes the combined cache the question reads.
    func compressPrefilled(_ st: RunState, lab: EvictionLabSettings, cache: KVCache, signals: ContextSignals) {
        let c = model.config, ch = st.chunks[0], cLen = ch.contextLength
        var compressed = Array(repeating: 0, count: c.layerCount * c.headCount)
        let kept = labEvict(lab, cache: cache, chunkID: ch.id, cLen: cLen, m: 0, first: 0, compressed: &compressed,
                            scores: signals.score(for: lab), moments: signals.moments(for: lab), mass: signals.mass, st)
        st.combined = cache
        st.chunks[0].kept = true
        st.kept = [0]
        st.spans = [0..<cLen]
        st.labKept[String(ch.id)] = kept
        for x in compressed.indices { st.log.compression[x] += compressed[x] }
        st.queryPosition = cLen
        st.nominalS = cLen
        st.cachePerLayer = (0..<c.layerCount).map { cache.keptCount(layer: $0, head: 0) }
    }

    /// `run`'s first stage in the kvpress setting: prefill the context, then compress it.
    func compressContext(_ st: RunState, observers: [AttentionObserver], progress: ((Event) -> Void)?) throws {
        guard let lab = config.evictionLab, st.chunks.count == 1 else { throw SettingError.kvpressNeedsPolicyAndCausal }
        let t0 = Date()
        progress?(.chunkStarted(index: 0, total: 1, tokens: st.chunks[0].contextLength))
        let (cache, signals) = try prefillContext(st.chunks[0], labs: [lab], observers: observers)
        compressPrefilled(st, lab: lab, cache: cache, signals: signals)
        progress?(.chunkFinished(index: 0, total: 1, tokens: st.chunks[0].contextLength, nll: .nan))
        st.timings["chunk_prefill_s"] = Date().timeIntervalSince(t0)
    }

    /// Every lab point for the price of one context prefill (the ParallelComp setting: one pass per
    /// chunk, `runChunkLabPoints`). In the kvpress setting: the context
    /// is prefilled once with the observers every point's signal needs, and each point then costs
    /// its selection, the question and the answer over its own fork of that cache; the points'
    /// answers decode side by side (`decodeSideBySide`). Results equal `run` with each
    /// lab in turn (`LabSharedPassTests`). `labs` must all be kvpress-setting labs; the
    /// pipeline's own lab is ignored.
    /// `questionObservers(i)`: observers of point i's question prefill (the lab's accounting of
    /// where the question looks; they never change a number).
    public func runLabPoints(_ prep: Prepared, labs: [EvictionLabSettings], generate: Bool = true, scoreAnswer: [Int]? = nil,
                             questionObservers: ((Int) -> [AttentionObserver])? = nil,
                             cancelled: () -> Bool = { false }) throws -> [Result] {
        guard !labs.isEmpty else { return [] }
        if labs.allSatisfy({ $0.setting == .parallelComp }) {
            return try runChunkLabPoints(prep, labs: labs, generate: generate, scoreAnswer: scoreAnswer, questionObservers: questionObservers,
                                         cancelled: cancelled)
        }
        guard config.causal, prep.chunks.count == 1, labs.allSatisfy({ $0.setting == .kvpress && !$0.decodeEviction }) else {
            throw SettingError.sharedPrefillNeedsCausalKVPress
        }
        for lab in labs { try lab.check(); try lab.check(model: model.config) }
        let t0 = Date()
        let (cache, signals) = try prefillContext(prep.chunks[0], labs: labs, observers: [])
        let prefillSeconds = Date().timeIntervalSince(t0), cLen = prep.chunks[0].contextLength
        var ready: [(pipeline: ParallelCompPipeline, state: RunState)] = []
        for (i, lab) in labs.enumerated() {
            if cancelled() { throw CancellationError() }
            var c = config
            c.evictionLab = lab
            let pc = ParallelCompPipeline(model: model, tokenizer: tokenizer, config: c, format: format)
            try pc.validate(prep)
            let st = RunState(pipeline: pc, prep: prep)
            // A fork reads the prefilled keys in place; the point's masks, question and answer are its own.
            pc.compressPrefilled(st, lab: lab, cache: cache.fork(), signals: signals)
            st.timings["chunk_prefill_s"] = prefillSeconds
            st.storedKVPairs = st.combined.storedPairs(before: st.combined.count)
            try pc.prefillQuestion(st, observers: questionObservers?(i) ?? [], progress: nil)
            if let a = scoreAnswer, !a.isEmpty { try pc.scoreExpectedAnswer(a, st) }
            ready.append((pc, st))
        }
        try Self.decodeSideBySide(ready, generate: generate, cancelled: cancelled)
        return ready.map { $0.state.result(tokenizer) }
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
