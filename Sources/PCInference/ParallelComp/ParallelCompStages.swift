import Foundation

/// The stages of `ParallelCompPipeline.run`, each a short function over one `RunState`:
/// score the chunks (prefill, score, compress, keep K), combine the kept caches, prefill the
/// question, and decode. Section numbers refer to `../shared/research/parallelcomp-algorithm.md`.
extension ParallelCompPipeline {
    /// A chunk that is in the keep-K heap: its cache and what eviction did to it.
    struct HeldChunk {
        let id: Int
        /// NLL, or -NLL when the highest are kept: lower is better.
        let score: Double
        let block: KVBlock
        let masks: [[[UInt8]?]]
        let compressed: [Int]
        let snapKept: [[[Int]]]?
        var labKept: [[[Int]]]? = nil
        /// One lab point's eviction each when one chunk pass serves several points (`LabChunkPoints`).
        var points: [PointEviction]? = nil
        func relabelled(_ id: Int) -> HeldChunk {
            HeldChunk(id: id, score: score, block: block, masks: masks, compressed: compressed, snapKept: snapKept, labKept: labKept, points: points)
        }
    }

    /// What a run carries from one stage to the next.
    final class RunState {
        let config: ParallelCompConfig
        var chunks: [Chunk]
        /// The question as prefilled (`BOS q` by default; middle-cut under the official budget R
        /// once P is known).
        var question: [Int]
        /// The official length budget R of the final question (character split), else nil.
        let lengthBudget: Int?
        /// The question part of a chunk pass (`BOS q`) unless the chunk's own cut replaces it.
        let passQuestion: [Int]
        var log: EvictionLog
        var timings: [String: Double] = [:]
        var evictedChunk: [String: [[[Int]]]] = [:], snapKept: [String: [[[Int]]]] = [:], labKept: [String: [[[Int]]]] = [:]
        var bands: PolicyBandLog?
        /// Chunks kept whatever their score (the lab's oracle-chunk mode), and the KV pairs the
        /// context left in the combined cache (per layer and KV head, summed).
        let forced: Set<Int>
        var storedKVPairs = 0
        /// Lab points sharing this run's chunk passes: each evicts from every pass with its own
        /// policy into its own state (nil: the run's own lab, if any, evicts). See `LabChunkPoints`.
        var fanout: [(lab: EvictionLabSettings, state: RunState)]?
        /// The keep-K heap, best first (see `before`).
        var held: [HeldChunk] = []
        // Filled by combineKept.
        var kept: [Int] = []
        var combined: KVCache
        var spans: [Range<Int>] = []
        var queryPosition = 0, nominalS = 0
        var cachePerLayer: [Int] = []
        // Filled by prefillQuestion and later stages.
        var logits: [Float] = []
        var evictedQuery: [[[Int]]]?
        var evictedStage: [[[Int]]]?
        /// Decode-time eviction's state, set by the question prefill.
        var decodeEviction: (any DecodeStepEvicting)?
        /// The lab's decode-time eviction as the question prefill left it (a fresh state per use:
        /// answer scoring steps through one, decoding through another).
        var labDecodeEviction: (() -> LabDecodeEvictionState)?
        /// Keys decode-time eviction removed after each step, [step][layer][head].
        var evictedDecodeSteps: [[[[Int]]]] = []
        /// The 20 largest logits of every decode forward (the ones choosing the next token).
        var decodeTop20: [TopLogits] = []
        var top20: [Int] = [], top20Logits: [Float] = []
        var answerNLL: Double?
        var answer: [Int] = []

        init(pipeline p: ParallelCompPipeline, prep: Prepared) {
            config = p.config
            chunks = prep.chunks
            question = p.questionTokens(prep.questionIDs)
            passQuestion = question
            lengthBudget = prep.lengthBudget
            log = EvictionLog(layers: p.model.config.layerCount, heads: p.model.config.headCount)
            bands = p.config.evictionLab.map { _ in
                PolicyBandLog(chunks: prep.chunks.count, layers: p.model.config.layerCount, heads: p.model.config.headCount, width: p.config.bandWidth)
            }
            combined = p.model.makeCache()
            forced = prep.keepChunkIDs
        }

        var m: Int { question.count }

        /// The keep-K heap's order: best score first; on equal scores the official heap pops the
        /// earlier chunk (spec section 2), so the later one ranks first.
        func before(_ a: HeldChunk, _ b: HeldChunk) -> Bool {
            a.score != b.score ? a.score < b.score : (config.tieBreak == .keepLater ? a.id > b.id : a.id < b.id)
        }

        /// SnapKV's budget C' (section 3.1): the capacity, but never more than the shortest chunk's
        /// context without its BOS, counted before the official F cap.
        func snapKVBudget(_ snap: ParallelCompConfig.Compression) -> Int {
            min(snap.capacity, chunks.map { $0.originalLength - 1 }.min() ?? 0)
        }

        /// The question part of chunk i's pass: the run's, or its official cut.
        func question(ofChunk i: Int) -> [Int] { chunks[i].questionTokens ?? passQuestion }

        /// Add one chunk pass's chunk-stage calibration to the run's log.
        func record(_ cal: ChunkCalibration, chunk id: Int) {
            let counts = cal.evictedKeys.flatMap { $0.map(\.count) }
            for x in counts.indices { log.calibrationChunk[x] += counts[x]; log.outliersChunk[x] += cal.outliers[x] }
            evictedChunk[String(id)] = cal.evictedKeys
        }

        /// First evictable key of a chunk: later chunks' BOS never is (token_prompt_size = 1).
        func firstCandidate(_ ch: Chunk) -> Int { ch.id == 0 || config.evictChunkFirstToken ? 0 : 1 }

        func result(_ tokenizer: Tokenizer) -> Result {
            let shown = answer.filter { !tokenizer.stopTokenIDs.contains($0) }
            var r = Result(chunks: chunks, keptChunkIDs: kept, questionIDs: question, answerIDs: answer,
                           answer: tokenizer.decode(shown, skipSpecial: true), queryPosition: queryPosition,
                           combinedKeys: spans.last?.upperBound ?? 0, combinedSpans: spans, evictions: log, timings: timings,
                           answerNLL: answerNLL)
            r.evictedQuery = evictedQuery
            r.evictedStage = evictedStage
            r.evictedDecodeSteps = evictedDecodeSteps
            r.chunkPassQuestion = passQuestion
            r.decodeTop20 = decodeTop20
            r.evictedChunk = evictedChunk
            r.snapKVKept = snapKept
            r.policyKept = labKept
            r.policyBands = bands
            r.cachePerLayer = cachePerLayer
            r.storedKVPairs = storedKVPairs
            r.nominalCacheLength = nominalS
            r.top20IDs = top20
            r.top20Logits = top20Logits
            return r
        }
    }

    // MARK: stage 0

    /// Prefill every chunk with the question (positions from 0), score it by the question's NLL,
    /// compress it, and keep the best K in a heap (sections 1.5, 2, 3.1, 4.5). A chunk identical
    /// to one scored before is skipped when the heap would drop it at once.
    func scoreChunks(_ st: RunState, observers: [AttentionObserver], progress: ((Event) -> Void)?, cancelled: () -> Bool) throws {
        let K = min(config.keepChunks, st.chunks.count)
        let t0 = Date()
        let watched = observers.contains { $0.watchesChunkPasses }
        let memo = (!watched && config.ranking != .random) ? self.memo : nil
        let memoSettings = ChunkScoreMemo.settings(config)
        // Finished passes of earlier runs (opt-in); a watched pass runs, and is stored.
        let passes = (config.evictionLab == nil && st.fanout == nil && config.batchChunks <= 1) ? passMemo : nil
        let passSettings = passes == nil ? "" : ChunkPassMemo.settings(config)
        var skipped = 0, unscored = 0, reused = 0, i = 0
        // Forced chunks that fill the keep budget decide the selection: no other chunk's score
        // can change it, so (when no observer watches chunk passes) the others are not prefilled.
        let forcedFill = st.forced.count >= K && !watched
        func hold(_ candidate: ScoredChunk) {
            st.chunks[candidate.id].nll = candidate.nll
            memo?.store(memoKey(st, candidate.id, memoSettings), .init(nll: candidate.nll, calibration: candidate.calibration))
            st.held.append(candidate.held)
            st.held.sort(by: st.before)
            if st.held.count > K { st.held.removeLast() }   // the dropped chunk's KV is freed here
        }
        while i < st.chunks.count {
            if cancelled() { throw CancellationError() }
            if forcedFill, !st.forced.contains(st.chunks[i].id) {
                unscored += 1
                progress?(.chunkFinished(index: i, total: st.chunks.count, tokens: 0, nll: .nan))
                i += 1
                continue
            }
            if let memo, st.held.count == K, !st.forced.contains(st.chunks[i].id),
               let known = memo.lookup(memoKey(st, i, memoSettings)),
               reuseKnownScore(known.nll, chunk: i, st) {
                let nll = known.nll
                st.chunks[i].nll = nll
                if let cal = known.calibration { st.record(cal, chunk: st.chunks[i].id) }
                skipped += 1
                progress?(.chunkFinished(index: i, total: st.chunks.count, tokens: 0, nll: nll))   // nothing prefilled
                i += 1
                continue
            }
            if let passes, !watched, let done = passes.lookup(passKey(st, i, passSettings)) {
                hold(reusePass(done, chunk: i, st))
                reused += 1
                progress?(.chunkFinished(index: i, total: st.chunks.count, tokens: 0, nll: done.nll))   // nothing prefilled
                i += 1
                continue
            }
            let group = Array(i..<min(i + max(1, config.batchChunks), st.chunks.count))
            for candidate in try prefillChunks(group, st, observers: observers, progress: progress) {
                if let passes { passes.store(passKey(st, candidate.id, passSettings), .init(candidate)) }
                hold(candidate)
                progress?(.chunkFinished(index: candidate.id, total: st.chunks.count, tokens: st.chunks[candidate.id].contextLength + st.m,
                                         nll: candidate.nll))
            }
            i += group.count
        }
        st.timings["chunk_prefill_s"] = Date().timeIntervalSince(t0)
        st.timings["chunks_reused"] = Double(skipped)
        st.timings["chunks_unscored"] = Double(unscored)
        if passes != nil { st.timings["chunk_passes_reused"] = Double(reused) }
    }

    /// A chunk pass's memo key: its tokens, its question, the model, the chunk-stage settings,
    /// and where chunk-stage eviction starts in it and how much SnapKV keeps (both depend on
    /// the chunk's place in the document, not only on its tokens).
    private func passKey(_ st: RunState, _ i: Int, _ settings: String) -> ChunkPassMemo.Key {
        let snap = config.compression.flatMap { $0.stage == .chunk ? $0 : nil }
        let evicts = snap != nil || !config.calibrationRules(at: .chunk).isEmpty
        return .init(model: ObjectIdentifier(model), chunk: st.chunks[i].tokens, question: st.question(ofChunk: i), settings: settings,
                     firstCandidate: evicts ? st.firstCandidate(st.chunks[i]) : 0,
                     snapBudget: snap.map { min(st.snapKVBudget($0), st.chunks[i].contextLength) } ?? 0)
    }

    /// A stored pass as this run's chunk i: the same cache, masks and evictions, scored anew
    /// (the score depends on the chunk's id and on whether it is forced).
    private func reusePass(_ e: ChunkPassMemo.Entry, chunk j: Int, _ st: RunState) -> ScoredChunk {
        if let cal = e.calibration { st.record(cal, chunk: st.chunks[j].id) }
        return ScoredChunk(id: j, nll: e.nll, held: HeldChunk(id: j, score: heapScore(nll: e.nll, chunk: j, st), block: e.block, masks: e.masks,
                                                               compressed: e.compressed, snapKept: e.snapKept), calibration: e.calibration)
    }

    /// A chunk's place in the keep-K heap (lower is better): its NLL, or under the random-selection
    /// ablation a seeded uniform score in [0, 3); forced chunks first.
    private func heapScore(nll: Double, chunk j: Int, _ st: RunState) -> Double {
        var rng = SplitMix64(seed: config.rankingSeed &+ UInt64(st.chunks[j].id) &* 0x9E37_79B9_7F4A_7C15)
        let rank = config.ranking == .random ? Double(rng.next() >> 11) / Double(1 << 53) * 3 : nll
        return st.forced.contains(st.chunks[j].id) ? -Double.infinity : config.selection == .lowestNLL ? rank : -rank
    }

    private func memoKey(_ st: RunState, _ i: Int, _ settings: String) -> ChunkScoreMemo.Key {
        let calibrated = !config.calibrationRules(at: .chunk).isEmpty
        return .init(chunk: st.chunks[i].tokens, question: st.question(ofChunk: i), settings: settings,
                     firstCandidate: calibrated ? st.firstCandidate(st.chunks[i]) : 0)
    }

    /// Whether a chunk whose NLL is known can skip its prefill: the full heap would drop it at
    /// once, or (a tie under the official rule, where the heap pops the earlier chunk) the worst
    /// held chunk has the same tokens, hence the same cache, which is relabelled.
    private func reuseKnownScore(_ nll: Double, chunk i: Int, _ st: RunState) -> Bool {
        let score = config.selection == .lowestNLL ? nll : -nll
        let w = st.held[st.held.count - 1]
        if score > w.score || (score == w.score && config.tieBreak == .keepEarlier) { return true }
        guard score == w.score, st.chunks[w.id].tokens == st.chunks[i].tokens,
              (config.compression == nil && config.calibrationRules(at: .chunk).isEmpty)
                || st.firstCandidate(st.chunks[w.id]) == st.firstCandidate(st.chunks[i]) else { return false }
        st.held[st.held.count - 1] = w.relabelled(i)
        st.held.sort(by: st.before)
        return true
    }

    /// What chunk-stage calibration evicted in one chunk pass: [layer][head] -> chunk-local keys,
    /// and the outliers above lambda per [layer * heads + head].
    struct ChunkCalibration { let evictedKeys: [[[Int]]]; let outliers: [Int] }

    /// One chunk pass's outcome for one chunk.
    struct ScoredChunk { let id: Int; let nll: Double; let held: HeldChunk; let calibration: ChunkCalibration? }

    /// The packed input of one chunk pass: each chunk's context and question (positions restarting
    /// at 0), its attention segment, and the rows whose logits score it.
    private struct ChunkPassInput {
        var tokens: [Int] = [], positions: [Int] = [], segs: [AttentionLayout.Segment] = [], logitRows: [Int] = []
        /// Per chunk of the group: its first token in the pass, and its first row among logitRows.
        var starts: [Int] = [], hiddenStarts: [Int] = []
    }

    private func chunkPassInput(_ group: [Int], _ st: RunState, progress: ((Event) -> Void)?) -> ChunkPassInput {
        var p = ChunkPassInput()
        for j in group {
            let ctx = st.chunks[j].tokens, q = st.question(ofChunk: j), m = q.count
            let start = p.tokens.count
            p.starts.append(start)
            p.hiddenStarts.append(p.logitRows.count)
            p.tokens += ctx + q                                 // BOS ctx BOS q (section 1.5)
            p.positions += Array(0..<(ctx.count + m))           // positions restart at 0
            p.segs.append(.init(rows: start..<(start + ctx.count + m), keyStart: start))
            // Rows whose next-token logits score the chunk: the question's, or every row.
            p.logitRows += config.ranking == .chunk ? Array(start..<(start + ctx.count + m - 1))
                                                    : Array((start + ctx.count - 1)..<(start + ctx.count + m - 1))
            progress?(.chunkStarted(index: j, total: st.chunks.count, tokens: ctx.count + m))
        }
        return p
    }

    /// What watches a single-chunk pass: the observation scope, SnapKV's and the lab's key
    /// scores, the lab's query moments or shared signals, and the chunk-stage calibration hook
    /// (which also sets the cache's alignment and mask rows). A batched pass has none of them.
    private struct ChunkPassWatchers {
        var scoreObs: KeyScoreObserver?, massObs: KeyScoreObserver?
        var moments: QueryMoments?
        var shared: ContextSignals?
        var hook: CalibrationHook?
        var scope: ObservationScope?
    }

    private func chunkPassWatchers(chunk first: Int, _ st: RunState, cache: KVCache) -> ChunkPassWatchers {
        let c = model.config, H = c.headCount
        var w = ChunkPassWatchers()
        let cLen = st.chunks[first].contextLength, m = st.question(ofChunk: first).count
        w.scope = ObservationScope(stage: .local, chunkSpans: [0..<cLen], chunkIDs: [st.chunks[first].id], queryKeyStart: cLen,
                                   queryRowStart: cLen, queryRowCount: m, firstRowKey: 0)
        if let snap = config.compression, snap.stage == .chunk {
            w.scoreObs = KeyScoreObserver(stage: .local, lastRows: snap.window, layers: c.layerCount, heads: H)
        }
        if let fan = st.fanout {
            w.shared = contextSignals(fan.map(\.lab), questionRows: m, candidates: st.firstCandidate(st.chunks[first])..<cLen)
        } else if let lab = config.evictionLab {
            (w.scoreObs, w.massObs) = labObservers(lab, questionRows: m)
            w.moments = labMoments(lab, rows: st.firstCandidate(st.chunks[first])..<cLen)
        }
        let rules = config.calibrationRules(at: .chunk)
        if !rules.isEmpty {
            w.hook = CalibrationHook(rules: rules, settings: config, kernel: model.kernel,
                                     candidates: st.firstCandidate(st.chunks[first])..<cLen, passEndKey: cLen + m,
                                     duringPass: config.evictionAlignment == .bottomRight, layers: c.layerCount, heads: H,
                                     passKey: CalibrationPass.chunk(st.chunks[first].id))
            cache.alignment = config.evictionAlignment
            cache.maskRowStart = config.chunkCalibrationRows == .all ? 0 : cLen
        }
        return w
    }

    /// Prefill a group of chunks (one pass; several only in the batched throughput mode, which
    /// runs without observers or hooks), with chunk-stage calibration inside the pass, then score
    /// each chunk and apply SnapKV to what it stores.
    private func prefillChunks(_ group: [Int], _ st: RunState, observers: [AttentionObserver], progress: ((Event) -> Void)?) throws -> [ScoredChunk] {
        let c = model.config, H = c.headCount
        let batched = group.count > 1
        let input = chunkPassInput(group, st, progress: progress)
        let cache = model.makeCache()
        let first = group[0]
        let w = batched ? ChunkPassWatchers() : chunkPassWatchers(chunk: first, st, cache: cache)
        let hidden = try model.forwardHidden(tokens: input.tokens, positions: input.positions, cache: cache,
                                             layout: AttentionLayout(segments: input.segs), hiddenRows: input.logitRows,
                                             observers: batched ? [] : observers + [w.scoreObs, w.massObs].compactMap { $0 } + (w.shared?.watching ?? []),
                                             scope: w.scope, hooks: w.hook.map { [$0] } ?? [],
                                             queryObservers: (w.moments.map { [$0] } ?? []) + (w.shared?.queryObservers ?? []),
                                             stageName: "chunk \(first) prefill")
        cache.settleEvictions()
        return group.enumerated().map { gi, j in
            let cLen = st.chunks[j].contextLength, q = st.question(ofChunk: j), m = q.count
            // The chunk's score: the question's NLL given the chunk, from the question rows' logits,
            // or the whole input's NLL (ranking `chunk`).
            let labels = config.ranking == .chunk ? Array((st.chunks[j].tokens + q).dropFirst()) : q
            let nll = hidden.withUnsafeBufferPointer { hb -> Double in
                nllOfLabels(hidden: hb.baseAddress! + input.hiddenStarts[gi] * c.embeddingLength, labels: labels,
                            scoreTokens: config.ranking == .chunk ? 0 : config.scoreTokens)
            }
            var compressed = Array(repeating: 0, count: c.layerCount * H)
            var keptKeys: [[[Int]]]?, labKept: [[[Int]]]?
            let first = st.firstCandidate(st.chunks[j])
            if let snap = config.compression, let obs = w.scoreObs {
                // SnapKV (section 3.1): each head keeps its best min(C', c) candidates; every other
                // context key (a later chunk's BOS included) is gone from what the chunk stores.
                let policy = SnapKVCompression(snap, budget: min(st.snapKVBudget(snap), cLen))
                keptKeys = evictChunk(cache, cLen: cLen, m: m, first: first, compressed: &compressed,
                                      plan: { _ in (policy, 0..<(cLen - first)) },
                                      signal: { l, h in Array(obs.scores(layer: l, head: h)) })
            }
            if let lab = config.evictionLab, let massObs = w.massObs {
                labKept = labEvict(lab, cache: cache, chunkID: st.chunks[j].id, cLen: cLen, m: m, first: first, compressed: &compressed,
                                   scores: w.scoreObs, moments: w.moments, mass: massObs, st)
            }
            let points = w.shared.map { evictForPoints(st.fanout!, cache: cache, chunkID: st.chunks[j].id, cLen: cLen, m: m, first: first, signals: $0) }
            let masks = cache.keepMasks
            let calibration = w.hook.map { ChunkCalibration(evictedKeys: $0.evictedKeys, outliers: $0.outliers) }
            if let calibration { st.record(calibration, chunk: st.chunks[j].id) }
            let block = batched ? Self.extract(cache.slices[0].block, start: input.starts[gi], count: cLen + m) : cache.slices[0].block
            return ScoredChunk(id: j, nll: nll, held: HeldChunk(id: j, score: heapScore(nll: nll, chunk: j, st), block: block, masks: masks,
                                                                 compressed: compressed, snapKept: keptKeys, labKept: labKept, points: points),
                               calibration: calibration)
        }
    }

    /// Evict from one chunk's stored cache, layer by layer: `plan(l)` gives the policy and the
    /// candidate positions (counted from `first`) it ranks, the others staying; keys before
    /// `first` (a later chunk's BOS) go. Returns the kept candidates, [layer][head] -> keys.
    func evictChunk(_ cache: KVCache, cLen: Int, m: Int, first: Int, compressed: inout [Int],
                    plan: (Int) -> (EvictionPolicy, Range<Int>), signal: (Int, Int) -> [Float],
                    select: ((EvictionPolicy, Range<Int>, [[Float]]) -> EvictionSelection)? = nil,
                    record: ((Int, [[Int]]) -> Void)? = nil) -> [[[Int]]] {
        let c = model.config, H = c.headCount
        var kk: [[[Int]]] = []
        for l in 0..<c.layerCount {
            let (policy, ranked) = plan(l)
            let scores = (0..<H).map { signal(l, $0) }
            let sel = select?(policy, ranked, scores) ?? policy.select(ranked: ranked, first: first, scores: scores)
            var gone = sel
            for h in 0..<H {
                gone.evicted[h] = Array(0..<first) + sel.evicted[h]
                compressed[l * H + h] = gone.evicted[h].filter { cache.isPresent(layer: l, head: h, key: $0) }.count
            }
            record?(l, gone.evicted)
            cache.evict(layer: l, selection: gone, covering: cLen + m)
            kk.append((0..<H).map { h in let e = Set(gone.evicted[h]); return (first..<cLen).filter { !e.contains($0) } })
        }
        return kk
    }

    /// A lab policy's per-key signal for (layer, head): attention sums, key norms, expected
    /// attention from the pass's query `moments`, or nothing.
    func labSignal(_ signal: KeySignal, cache: KVCache, scores: KeyScoreObserver?, moments: QueryMoments? = nil, keys n: Int) -> (Int, Int) -> [Float] {
        let c = model.config
        switch signal {
        case .none: return { _, _ in [] }
        case .expectedAttention(_, let future):
            guard let moments else { return { _, _ in [] } }
            // The future queries sit right after the context (kvpress: positions q_len ..< q_len + 512).
            let qLen = moments.rows.upperBound, rotation = FutureRotation(rope: model.rope, positions: qLen..<(qLen + future))
            return { l, h in
                ExpectedAttention.scores(mean: moments.mean(layer: l, head: h), covariance: moments.covariance(layer: l, head: h),
                                         rotation: rotation, keys: moments.rows, keyCount: n,
                                         key: { cache.keyRow(layer: l, kvHead: h / c.groupSize, key: $0) },
                                         value: { cache.valueRow(layer: l, kvHead: h / c.groupSize, key: $0) })
            }
        case .attention: return { l, h in scores.map { Array($0.scores(layer: l, head: h)) } ?? [] }
        case .keyNorm:
            return { l, h in
                (0..<n).map { k in
                    let row = cache.keyRow(layer: l, kvHead: h / c.groupSize, key: k)
                    var s: Float = 0
                    for d in 0..<c.headDim { s += row[d] * row[d] }
                    return s.squareRoot()
                }
            }
        }
    }

    /// NLL of `labels` predicted by consecutive hidden rows (row t predicts labels[t]), with the
    /// configured formula; logits are projected in slabs so a whole chunk never needs [L, V] at once.
    private func nllOfLabels(hidden: UnsafePointer<Float>, labels: [Int], scoreTokens: Int) -> Double {
        let c = model.config, n = labels.count, slab = 256
        var sum = LabelNLL(formula: config.nllFormula, eos: tokenizer.eosID)
        var r = scoreTokens > 0 ? max(0, n - scoreTokens) : 0
        while r < n {
            let rows = min(slab, n - r)
            let logits = model.logits(hidden: hidden + r * c.embeddingLength, rows: rows)
            for t in 0..<rows { sum.add(logits[(t * c.vocabSize)..<((t + 1) * c.vocabSize)], label: labels[r + t]) }
            r += rows
        }
        return sum.value
    }

    // MARK: combine

    /// Concatenate the kept chunks' caches in document order without their question part; only
    /// the first kept chunk keeps its first token (section 1.7). P is the longest kept context.
    func combineKept(_ st: RunState) {
        let c = model.config, H = c.headCount
        let kept = st.held.sorted { $0.id < $1.id }
        for k in kept { st.chunks[k.id].kept = true }
        let combined = st.combined
        for (n, k) in kept.enumerated() {
            let cLen = st.chunks[k.id].contextLength
            let drop = (n == 0 || config.keepEveryChunkFirstToken) ? 0 : min(1, cLen)
            // The official sum_windows_size: what the slices [0:] and [1:] leave of each cache
            // (SnapKV shortens it; calibration does not count).
            if let kk = k.snapKept?.first?.first {
                st.nominalS += kk.filter { $0 >= drop }.count - (n > 0 && config.snapKVDropFirstKept && kk.contains { $0 >= drop } ? 1 : 0)
            } else {
                st.nominalS += cLen - drop
            }
            var masks = k.masks
            // Official slice [1:] of a later chunk's compressed cache drops its first kept token,
            // taking it for a BOS that SnapKV never kept (section 3.1, Q8).
            if n > 0, k.snapKept != nil, config.snapKVDropFirstKept {
                for l in 0..<c.layerCount {
                    for h in 0..<H {
                        if let mk = masks[l][h], let first = (drop..<cLen).first(where: { mk[$0] == 1 }) { masks[l][h]![first] = 0 }
                    }
                }
            }
            let start = combined.count
            combined.append(k.block, from: drop, count: cLen - drop, masks: masks)
            st.spans.append(start..<combined.count)
            for x in 0..<st.log.compression.count { st.log.compression[x] += k.compressed[x] }
            if let kk = k.snapKept { st.snapKept[String(k.id)] = kk }
            if let kk = k.labKept { st.labKept[String(k.id)] = kk }
        }
        st.held = []
        st.kept = kept.map(\.id)
        st.queryPosition = kept.map { st.chunks[$0.id].contextLength }.max() ?? 0
        st.question = finalQuestion(st.question, queryPosition: st.queryPosition, budget: st.lengthBudget)
        st.cachePerLayer = (0..<c.layerCount).map { combined.keptCount(layer: $0, head: 0) }
    }

    // MARK: stage 1

    /// The question (`BOS q`) over the combined cache at positions P, P+1, ... (section 1.8),
    /// with question-stage calibration inside the pass (section 4.2).
    func prefillQuestion(_ st: RunState, observers: [AttentionObserver], progress: ((Event) -> Void)?) throws {
        let c = model.config, H = c.headCount, m = st.m, P = st.queryPosition
        let S = st.combined.count
        progress?(.queryPrefill(keys: S, queryTokens: m))
        let t1 = Date()
        let scope = ObservationScope(stage: .global, chunkSpans: st.spans, chunkIDs: st.kept, queryKeyStart: S,
                                     queryRowStart: S, queryRowCount: m, firstRowKey: S)
        let rules = config.calibrationRules(at: .query)
        let hook = rules.isEmpty ? nil : CalibrationHook(rules: rules, settings: config, kernel: model.kernel, candidates: 0..<(config.protectQuestionKeys ? S : S + m),
                                                         passEndKey: S + m, duringPass: config.evictionAlignment == .bottomRight,
                                                         layers: c.layerCount, heads: H, passKey: CalibrationPass.question)
        st.combined.alignment = config.evictionAlignment
        let stageSnap = config.compression.flatMap { $0.stage == .question ? $0 : nil }
        let stageObs = stageSnap.map { KeyScoreObserver(stage: .global, lastRows: min($0.window, m), layers: c.layerCount, heads: H) }
        let dynSnap = config.compression.flatMap { $0.decodeEviction ? $0 : nil }
        let dynHook = dynSnap.map { DecodeEvictionHook(window: $0.window, passEndKey: S + m, causalWindow: $0.stage == .question, config: c) }
        let labDecode = config.evictionLab.flatMap { $0.decodeEviction ? $0 : nil }
        // H2O's accumulation starts from every question row's attention.
        let labObs = labDecode.flatMap { $0.decodePolicy(keep: 0)?.accumulates == true ? $0 : nil }
            .map { _ in KeyScoreObserver(stage: .global, lastRows: m, layers: c.layerCount, heads: H) }
        st.logits = try model.forward(tokens: st.question, positions: Array(P..<(P + m)), cache: st.combined, layout: .causal(rows: m),
                                      logitRows: [m - 1], observers: observers + (stageObs.map { [$0] } ?? []) + (labObs.map { [$0] } ?? []),
                                      scope: scope, hooks: [hook as AttentionHook?, dynHook].compactMap { $0 }, stageName: "question prefill")
        st.combined.settleEvictions()
        if let labDecode { startLabDecodeEviction(labDecode, accumulated: labObs, st) }
        if let stageSnap, let stageObs { compressAfterQuestion(st, stageSnap, scores: stageObs) }
        if let dynSnap, let dynHook {
            // Decoding starts from the keys the question prefill (and stage_eviction) left.
            let cache = st.combined
            st.decodeEviction = dynHook.state(window: min(dynSnap.window, m), kernel: dynSnap.kernel, layers: c.layerCount) {
                cache.isPresent(layer: $0, head: $1, key: $2)
            }
        }
        if let hook { st.log.calibrationQuery = hook.evicted; st.log.outliersQuery = hook.outliers; st.evictedQuery = hook.evictedKeys }
        let top = TopLogits(st.logits, count: 20)
        st.top20 = top.ids
        st.top20Logits = top.logits
        st.timings["query_prefill_s"] = Date().timeIntervalSince(t1)
    }

    /// `stage_eviction` (section 3.2): after the question prefill has attended with the full cache,
    /// every head keeps the top min(C', c_last) x K - w keys by the last w question rows' pooled
    /// attention, question keys competing with context keys, plus the last w keys; decoding sees
    /// the rest no more. c_last is the document's last chunk (the official layer keeps the budget
    /// of the last chunk it processed).
    private func compressAfterQuestion(_ st: RunState, _ snap: ParallelCompConfig.Compression, scores obs: KeyScoreObserver) {
        let c = model.config, H = c.headCount, total = st.combined.count
        let w = min(snap.window, st.m)
        let cPrime = st.snapKVBudget(snap)
        let budget = max(0, min(cPrime, st.chunks.last?.originalLength ?? 0) * min(st.chunks.count, config.keepChunks) - w)
        let policy = StageCompression(snap, budget: budget)
        var evicted: [[[Int]]] = []
        for l in 0..<c.layerCount {
            // Candidates: every key the head still sees but the last w, which always stay.
            let cand = (0..<H).map { h in Array(st.combined.candidates(layer: l, head: h, in: 0..<total).dropLast(w)) }
            let sel = policy.select(EvictionInput(scores: (0..<H).map { Array(obs.scores(layer: l, head: $0)) }, candidates: cand))
            st.combined.evict(layer: l, selection: sel, covering: total)
            evicted.append(sel.evicted)
            for h in 0..<H { st.log.stageCompression[l * H + h] = sel.evicted[h].count }
        }
        st.evictedStage = evicted
    }

    /// The lab's decode-time eviction (`--decode-eviction`) starts from the keys each head sees
    /// once the question has attended; that count is its budget.
    private func startLabDecodeEviction(_ lab: EvictionLabSettings, accumulated obs: KeyScoreObserver?, _ st: RunState) {
        let c = model.config, H = c.headCount, end = st.combined.count, cache = st.combined
        let present = (0..<(c.layerCount * H)).map { x in cache.candidates(layer: x / H, head: x % H, in: 0..<end).map(\.key) }
        let acc = obs.map { o in (0..<(c.layerCount * H)).map { x in Array(o.scores(layer: x / H, head: x % H)) } }
        st.labDecodeEviction = {
            LabDecodeEvictionState(layers: c.layerCount, heads: H, present: present, accumulated: acc) { lab.decodePolicy(keep: $0)! }
        }
        st.decodeEviction = st.labDecodeEviction!()
    }

    /// The expected answer's mean NLL, teacher-forced after the question; the cache is rolled
    /// back so decoding is unchanged. With the lab's decode-time eviction the answer is fed one
    /// token at a time, evicting after each as decoding would (TOVA's paper measures perplexity
    /// so); the cache's keys and masks are restored afterwards.
    func scoreExpectedAnswer(_ a: [Int], _ st: RunState) throws {
        let V = model.config.vocabSize, end = st.combined.count, pos = st.queryPosition + st.m
        var total = Perplexity.logSoftmax(st.logits[0..<V], a[0])
        if a.count > 1, let fresh = st.labDecodeEviction {
            let dyn = fresh(), saved = st.combined.keepMasks, S = st.spans.last?.upperBound ?? 0
            for t in 1..<a.count {
                let key = st.combined.count
                let scope = ObservationScope(stage: .decode, chunkSpans: st.spans, chunkIDs: st.kept, queryKeyStart: S,
                                             queryRowStart: key, queryRowCount: 1, firstRowKey: key)
                let rowObs = DecodeRowObserver(layers: dyn.layers, heads: dyn.heads)
                let l = try model.forward(tokens: [a[t - 1]], positions: [pos + t - 1], cache: st.combined, logitRows: [0],
                                          observers: [rowObs], scope: scope, stageName: "answer scoring")
                for layer in 0..<dyn.layers {
                    let gone = dyn.step(layer: layer, newKey: key) { rowObs.row(layer: layer, head: $0) }
                    st.combined.evict(layer: layer, selection: EvictionSelection(evicted: gone, outliers: Array(repeating: 0, count: dyn.heads)))
                }
                total += Perplexity.logSoftmax(l[0..<V], a[t])
            }
            st.combined.truncate(to: end)
            for (l, perHead) in saved.enumerated() { for (h, m) in perHead.enumerated() {
                st.combined.setKeepMask(layer: l, head: h, m.map { Array($0.prefix(end)) } ?? Array(repeating: 1, count: end))
            } }
        } else if a.count > 1 {
            let fed = Array(a.dropLast())
            let l2 = try model.forward(tokens: fed, positions: Array(pos..<(pos + fed.count)), cache: st.combined,
                                       layout: .causal(rows: fed.count), logitRows: Array(0..<fed.count), stageName: "answer scoring")
            for t in 1..<a.count { total += Perplexity.logSoftmax(l2[((t - 1) * V)..<(t * V)], a[t]) }
            st.combined.truncate(to: end)
        }
        st.answerNLL = total / Double(a.count)
    }

    // MARK: stage 2

    /// `kv_cache_dynamic` (section 3.3), or the lab's TOVA / H2O with `--decode-eviction`: once a
    /// generated token has attended, every head drops one key, so the cache keeps the size the
    /// question prefill left.
    private func evictAfterStep(_ dyn: any DecodeStepEvicting, rows: DecodeRowObserver, newKey: Int, _ st: RunState) {
        let H = dyn.heads
        var step: [[[Int]]] = []
        for l in 0..<dyn.layers {
            let gone = dyn.step(layer: l, newKey: newKey) { rows.row(layer: l, head: $0) }.map { $0.sorted() }
            st.combined.evict(layer: l, selection: EvictionSelection(evicted: gone, outliers: Array(repeating: 0, count: H)))
            for h in 0..<H { st.log.decode[l * H + h] += gone[h].count }
            step.append(gone)
        }
        st.evictedDecodeSteps.append(step)
    }

    /// The tokens that end an answer.
    var decodeStops: Set<Int> { config.stopTokens == .all ? tokenizer.stopTokenIDs : Set([tokenizer.eosID].compactMap { $0 }) }

    /// Greedy (or sampled) decoding over the whole cache; the model's stop tokens are banned at
    /// the first step only, as `min_length` does in the official code (section 1.9).
    func decode(_ st: RunState, generate: Bool, observers: [AttentionObserver], progress: ((Event) -> Void)?, cancelled: () -> Bool) throws {
        let t2 = Date()
        defer { st.timings["decode_s"] = Date().timeIntervalSince(t2) }
        guard generate else { return }
        var sampler = Sampler(config.sampling)
        let S = st.spans.last?.upperBound ?? 0
        _ = try DecodeLoop.run(logits: st.logits, position: st.queryPosition + st.m, maxTokens: config.maxNewTokens, sampler: &sampler,
                               stopTokens: decodeStops, banStopsFirst: true, cancelled: cancelled,
                               onToken: { t in st.answer.append(t); progress?(.token(t)); return true }) { t, pos in
            let key = st.combined.count
            let scope = ObservationScope(stage: .decode, chunkSpans: st.spans, chunkIDs: st.kept, queryKeyStart: S,
                                         queryRowStart: key, queryRowCount: 1, firstRowKey: key)
            let rowObs = st.decodeEviction.map { DecodeRowObserver(layers: $0.layers, heads: $0.heads) }
            let logits = try model.forward(tokens: [t], positions: [pos], cache: st.combined, logitRows: [0],
                                           observers: observers + (rowObs.map { [$0] } ?? []), scope: scope, stageName: "decode")
            st.decodeTop20.append(TopLogits(logits, count: 20))
            if let dyn = st.decodeEviction, let rowObs { evictAfterStep(dyn, rows: rowObs, newKey: key, st) }
            return logits
        }
    }
}
