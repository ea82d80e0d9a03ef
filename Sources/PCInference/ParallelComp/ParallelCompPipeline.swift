import Foundation

/// The ParallelComp inference path: chunk, prefill each chunk with the question (positions from
/// 0), score chunks by the question's NLL, keep the best K, optionally compress and calibrate,
/// combine their caches, prefill the question after the longest kept chunk, and decode.
public final class ParallelCompPipeline {
    public let model: LlamaModel
    public let tokenizer: Tokenizer
    public let config: ParallelCompConfig
    public let format: PromptFormat
    /// Scores of chunks seen before (nil: every chunk is prefilled). Used only when nothing
    /// watches the chunk passes: observers and chunk-stage calibration need every pass.
    public var memo: ChunkScoreMemo? = ChunkScoreMemo()

    /// One chunk of the document.
    public struct Chunk: Codable, Sendable {
        public var id: Int
        /// Offsets of its content tokens in the tokenised document (token split), else nil.
        public var documentTokens: Range<Int>?
        /// Token ids: the prefix followed by the content.
        public var tokens: [Int]
        /// Context length c_i (prefix + content), i.e. the tokens kept in the combined cache.
        public var contextLength: Int { tokens.count }
        public var nll: Double?
        public var kept = false
        public init(id: Int, documentTokens: Range<Int>?, tokens: [Int]) { self.id = id; self.documentTokens = documentTokens; self.tokens = tokens }
    }

    /// A context split into chunks plus the question, ready to run.
    public struct Prepared: Sendable {
        public var chunks: [Chunk]
        public var questionIDs: [Int]
        public var prefixLength: Int
        public var documentTokenCount: Int
        public var chunkTokens: Int

        /// Chunks given as token ids directly (e.g. the golden fixtures). With `bos`, every chunk
        /// is prefixed with it (the official `BOS ctx`); without, the ids are taken as they are.
        public init(chunkTokenIDs: [[Int]], questionIDs: [Int], bos: Int? = nil) throws {
            guard !chunkTokenIDs.isEmpty, chunkTokenIDs.allSatisfy({ !$0.isEmpty }) else { throw ConfigError("a token layout needs at least one non-empty chunk") }
            guard !questionIDs.isEmpty else { throw ConfigError("a token layout needs a non-empty question") }
            var start = 0
            chunks = chunkTokenIDs.enumerated().map { i, ids in
                defer { start += ids.count }
                return Chunk(id: i, documentTokens: start..<(start + ids.count), tokens: (bos.map { [$0] } ?? []) + ids)
            }
            self.questionIDs = questionIDs
            prefixLength = bos == nil ? 0 : 1
            documentTokenCount = start
            chunkTokens = chunkTokenIDs.map(\.count).max()! + prefixLength
        }

        init(chunks: [Chunk], questionIDs: [Int], prefixLength: Int, documentTokenCount: Int, chunkTokens: Int) {
            self.chunks = chunks; self.questionIDs = questionIDs; self.prefixLength = prefixLength
            self.documentTokenCount = documentTokenCount; self.chunkTokens = chunkTokens
        }
    }

    public enum Event {
        case chunkStarted(index: Int, total: Int, tokens: Int)
        case chunkFinished(index: Int, total: Int, tokens: Int, nll: Double)
        case queryPrefill(keys: Int, queryTokens: Int)
        case token(Int)
    }

    public struct Result: Codable, Sendable {
        public var chunks: [Chunk]
        public var keptChunkIDs: [Int]
        public var questionIDs: [Int]
        public var answerIDs: [Int]
        public var answer: String
        /// Position of the first question token in the global pass (the longest kept chunk).
        public var queryPosition: Int
        /// Keys in the combined cache before the question.
        public var combinedKeys: Int
        /// Key spans of the kept chunks in the combined cache.
        public var combinedSpans: [Range<Int>]
        public var evictions: EvictionLog
        public var timings: [String: Double]
        /// Mean NLL of the expected answer, teacher-forced after the question (when asked).
        public var answerNLL: Double?
        /// The keys each eviction removed, for checking against the official code: question-stage
        /// calibration [layer][head] -> indices into [combined cache ; question]; chunk-stage
        /// calibration per chunk id -> [layer][head] -> chunk-local indices; SnapKV per kept chunk
        /// id -> [layer][head] -> chunk-local indices kept.
        public var evictedQuery: [[[Int]]]?
        public var evictedChunk: [String: [[[Int]]]] = [:]
        public var snapKVKept: [String: [[[Int]]]] = [:]
        /// Keys each layer's heads still see after the question prefill (the first head's count).
        public var cachePerLayer: [Int] = []
        /// The official code's S (sum_windows_size): the combined length its slices give.
        public var nominalCacheLength = 0
        /// The last question row's 20 largest logits, before decoding.
        public var top20IDs: [Int] = []
        public var top20Logits: [Float] = []
    }

    public init(model: LlamaModel, tokenizer: Tokenizer, config: ParallelCompConfig, format: PromptFormat) {
        self.model = model; self.tokenizer = tokenizer; self.config = config; self.format = format
    }

    /// The token the official code writes as BOS: the tokenizer's, or for a model without one
    /// (SmolLM2) the leading special token of the chunk prefix (`<|im_start|>`).
    public var bosID: Int? { tokenizer.bosID ?? format.prefixIDs(tokenizer).first }

    /// The question as prefilled: `BOS q` (official) or `q` (--no-question-bos).
    public func questionTokens(_ q: [Int]) -> [Int] {
        guard config.questionBOS, let b = bosID else { return q }
        return [b] + q
    }

    /// Default chunk size: the trained context minus the question and the answer budget.
    public func defaultChunkTokens(questionLength m: Int) -> Int {
        model.config.contextLength - m - config.maxNewTokens
    }

    /// Split the context and tokenise the question. Throws on unusable input.
    public func prepare(context: String, question: String) throws -> Prepared {
        guard !context.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw ConfigError("the context is empty") }
        let q = format.questionIDs(tokenizer, question: question)
        let prefix = format.prefixIDs(tokenizer)
        let cw = config.chunkTokens ?? defaultChunkTokens(questionLength: q.count)
        guard cw > prefix.count + 16 else {
            throw ConfigError("chunk size \(cw) tokens leaves no room for text after the \(prefix.count)-token prefix (question is \(q.count) tokens)")
        }
        guard q.count + cw <= model.config.contextLength * 4 else { throw ConfigError("chunk size \(cw) is far beyond the model's trained context \(model.config.contextLength)") }
        guard q.count < cw else {
            throw ConfigError("the question (\(q.count) tokens) is longer than the chunk size (\(cw) tokens)")
        }
        guard config.keepChunks >= 1 else { throw ConfigError("--keep-chunks must be at least 1") }
        if config.batchChunks > 1 && (config.compression != nil || config.calibration.contains { $0.stage == .chunk }) {
            throw ConfigError("--batch-chunks > 1 cannot be combined with compression or chunk-stage calibration (they need one pass per chunk)")
        }
        for r in config.calibration where r.layers.upperBound >= model.config.layerCount {
            throw ConfigError("calibration rule \(r) names layer \(r.layers.upperBound), but the model has layers 0-\(model.config.layerCount - 1)")
        }
        let content = cw - prefix.count
        let ids = tokenizer.encode(context, parseSpecial: false, addBOS: false)
        var chunks: [Chunk] = []
        switch config.splitBy {
        case .tokens, .sentences:
            let ranges: [Range<Int>]
            if config.splitBy == .tokens {
                ranges = Chunker.byTokens(count: ids.count, maxTokens: content)
            } else {
                // A token ends a sentence when its text ends with . ! ? or a line break (spaces aside).
                var cache: [Int: Bool] = [:]
                ranges = Chunker.bySentences(count: ids.count, maxTokens: content) { t in
                    let id = ids[t]
                    if let v = cache[id] { return v }
                    let text = self.tokenizer.decode([id], skipSpecial: true).trimmingCharacters(in: .whitespaces)
                    let v = text.last.map { ".!?\n".contains($0) } ?? false
                    cache[id] = v
                    return v
                }
            }
            for (i, r) in ranges.enumerated() { chunks.append(Chunk(id: i, documentTokens: r, tokens: prefix + ids[r])) }
        case .characters:
            let text = tokenizer.decode(ids, skipSpecial: true)
            for (i, piece) in Chunker.byCharacters(text: text, tokenCount: ids.count, maxTokens: content).enumerated() {
                var t = tokenizer.encode(piece, parseSpecial: false, addBOS: false)
                if t.count > content {   // re-tokenising can grow a piece: cut its middle as the official code does
                    let h = content / 2
                    t = Array(t.prefix(h)) + Array(t.suffix(content - h))
                }
                chunks.append(Chunk(id: i, documentTokens: nil, tokens: prefix + t))
            }
        }
        return Prepared(chunks: chunks, questionIDs: q, prefixLength: prefix.count, documentTokenCount: ids.count, chunkTokens: cw)
    }

    /// Run the whole pipeline. Observers receive every pass (they pick stages themselves).
    /// Checks a prepared input against the model before running.
    public func validate(_ prep: Prepared) throws {
        let V = model.config.vocabSize
        for ch in prep.chunks { for t in ch.tokens where t < 0 || t >= V { throw ConfigError("token id \(t) in chunk \(ch.id) is outside the vocabulary (0..<\(V))") } }
        for t in prep.questionIDs where t < 0 || t >= V { throw ConfigError("question token id \(t) is outside the vocabulary (0..<\(V))") }
    }

    /// Run the pipeline. `scoreAnswer`: token ids of an expected answer whose NLL is measured by
    /// teacher forcing after the question (the cache is rolled back before decoding).
    public func run(_ prep: Prepared, observers: [AttentionObserver] = [], generate: Bool = true, scoreAnswer: [Int]? = nil,
                    progress: ((Event) -> Void)? = nil, cancelled: () -> Bool = { false }) throws -> Result {
        try validate(prep)
        let c = model.config, H = c.headCount
        var chunks = prep.chunks
        let q = questionTokens(prep.questionIDs), m = q.count
        var log = EvictionLog(layers: c.layerCount, heads: H)
        var evictedChunk: [String: [[[Int]]]] = [:], snapKept: [String: [[[Int]]]] = [:]
        var timings: [String: Double] = [:]
        let K = min(config.keepChunks, chunks.count)
        let chunkRules = config.calibration.filter { $0.stage == .chunk }
        let queryRules = config.calibration.filter { $0.stage == .query }
        let policy = AttentionCalibration(lambda: config.lambda, width: config.bandWidth, equalizeHeads: config.equalizeHeads,
                                          edges: config.bandEdges)
        let snap = config.compression.map(SnapKVCompression.init)
        // SnapKV's budget C' (spec section 3.1): the capacity, but never more than the shortest
        // chunk's context without its BOS.
        let budget = snap.map { min($0.settings.capacity, chunks.map { $0.contextLength - 1 }.min() ?? 0) }
        // First evictable key of a chunk: later chunks' BOS never is (token_prompt_size = 1).
        func firstCandidate(_ ch: Chunk) -> Int { ch.id == 0 || config.evictChunkFirstToken ? 0 : 1 }
        let pending = config.evictionAlignment == .bottomRight

        // ---- stage 0: chunk prefills, scoring, and the keep-K heap ----
        struct Held { let id: Int; let score: Double; let block: KVBlock; let masks: [[[UInt8]?]]; let compressed: [Int]; let snapKept: [[[Int]]]? }
        // The keep-K heap's order: best first; on equal scores the official heap pops the earlier chunk.
        func before(_ a: Held, _ b: Held) -> Bool {
            a.score != b.score ? a.score < b.score : (config.tieBreak == .keepLater ? a.id > b.id : a.id < b.id)
        }
        var held: [Held] = []
        let t0 = Date()
        var i = 0
        let memo = (chunkRules.isEmpty && !observers.contains { $0.watchesChunkPasses }) ? self.memo : nil
        let memoSettings = ChunkScoreMemo.settings(config)
        var skipped = 0
        while i < chunks.count {
            if cancelled() { throw CancellationError() }
            // A chunk scored before whose score cannot enter the full heap: the heap would drop it at once.
            if let memo, held.count == K, let nll = memo.lookup(.init(chunk: chunks[i].tokens, question: q, settings: memoSettings)) {
                let score = config.selection == .lowestNLL ? nll : -nll
                let worst = held[K - 1].score
                var skip = score > worst || (score == worst && config.tieBreak == .keepEarlier)
                // A tie under the official rule: the heap pops the earlier chunk and keeps this one.
                // When the two are the same tokens at the same positions, their caches are the same
                // too (and so are SnapKV's candidates unless one is the document's first chunk):
                // the held cache is relabelled instead of prefilled again.
                let w = held[K - 1]
                if !skip, score == worst, chunks[w.id].tokens == chunks[i].tokens,
                   config.compression == nil || firstCandidate(chunks[w.id]) == firstCandidate(chunks[i]) {
                    held[K - 1] = Held(id: i, score: w.score, block: w.block, masks: w.masks, compressed: w.compressed, snapKept: w.snapKept)
                    held.sort(by: before)
                    skip = true
                }
                if skip {
                    chunks[i].nll = nll
                    skipped += 1
                    progress?(.chunkFinished(index: i, total: chunks.count, tokens: 0, nll: nll))   // nothing prefilled
                    i += 1
                    continue
                }
            }
            let group = Array(i..<min(i + max(1, config.batchChunks), chunks.count))
            // Batches run without observers or hooks (throughput mode); one chunk at a time otherwise.
            let batched = group.count > 1
            var tokens: [Int] = [], positions: [Int] = [], segs: [AttentionLayout.Segment] = [], logitRows: [Int] = []
            var starts: [Int] = []
            for j in group {
                let ctx = chunks[j].tokens
                let start = tokens.count
                starts.append(start)
                tokens += ctx + q
                positions += Array(0..<(ctx.count + m))
                segs.append(.init(rows: start..<(start + ctx.count + m), keyStart: start))
                logitRows += Array((start + ctx.count - 1)..<(start + ctx.count + m - 1))
                progress?(.chunkStarted(index: j, total: chunks.count, tokens: ctx.count + m))
            }
            let cache = model.makeCache()
            var scoreObs: KeyScoreObserver?
            var hook: CalibrationHook?
            var scope: ObservationScope?
            if !batched {
                let cLen = chunks[i].contextLength
                scope = ObservationScope(stage: .local, chunkSpans: [0..<cLen], chunkIDs: [chunks[i].id], queryKeyStart: cLen,
                                         queryRowStart: cLen, queryRowCount: m, firstRowKey: 0)
                if let snap { scoreObs = KeyScoreObserver(stage: .local, lastRows: snap.settings.window, layers: c.layerCount, heads: H) }
                if !chunkRules.isEmpty {
                    hook = CalibrationHook(rules: chunkRules, policy: policy, rows: config.calibrationRows, kernel: model.kernel,
                                           candidates: firstCandidate(chunks[i])..<cLen, passEndKey: cLen + m, duringPass: pending,
                                           layers: c.layerCount, heads: H)
                    cache.alignment = config.evictionAlignment
                    cache.maskRowStart = config.chunkCalibrationRows == .all ? 0 : cLen
                }
            }
            let hidden = try model.forwardHidden(tokens: tokens, positions: positions, cache: cache, layout: AttentionLayout(segments: segs),
                                                 hiddenRows: logitRows, observers: batched ? [] : observers + (scoreObs.map { [$0] } ?? []),
                                                 scope: scope, hook: hook, stageName: "chunk \(i) prefill")
            cache.settleEvictions()
            for (gi, j) in group.enumerated() {
                let cLen = chunks[j].contextLength
                // NLL of the question given this chunk, from logits at the question rows only.
                let rowsHere = Array((gi * m)..<((gi + 1) * m))
                let nll = hidden.withUnsafeBufferPointer { hb -> Double in
                    let logits = model.logits(hidden: hb.baseAddress! + rowsHere[0] * c.embeddingLength, rows: m)
                    return Self.questionNLL(logits: logits, vocab: c.vocabSize, question: q, scoreTokens: config.scoreTokens,
                                            formula: config.nllFormula, eos: tokenizer.eosID)
                }
                chunks[j].nll = nll
                memo?.store(.init(chunk: chunks[j].tokens, question: q, settings: memoSettings), nll)
                let score = config.selection == .lowestNLL ? nll : -nll
                // This chunk's own cache: its slice of the pass's block (context + question).
                let block = cache.slices[0].block
                var masks = cache.keepMasks
                var compressed = Array(repeating: 0, count: c.layerCount * H)
                var keptKeys: [[[Int]]]?
                if let snap, let obs = scoreObs, let budget {
                    // Each head keeps its best min(C', c) candidates; every other context key goes.
                    let cand = firstCandidate(chunks[j])..<cLen
                    keptKeys = (0..<c.layerCount).map { l in
                        (0..<H).map { h in snap.kept(scores: obs.scores(layer: l, head: h), candidates: cand, budget: min(budget, cLen)) }
                    }
                    for l in 0..<c.layerCount {
                        for h in 0..<H {
                            let keep = Set(keptKeys![l][h])
                            var mk = masks[l][h] ?? Array(repeating: 1, count: cLen + m)
                            for k in 0..<cLen where !keep.contains(k) && mk[k] == 1 { mk[k] = 0; compressed[l * H + h] += 1 }
                            masks[l][h] = mk
                        }
                    }
                }
                if let hook {
                    for x in 0..<log.calibrationChunk.count { log.calibrationChunk[x] += hook.evicted[x]; log.outliersChunk[x] += hook.outliers[x] }
                    evictedChunk[String(chunks[j].id)] = hook.evictedKeys
                }
                let item = Held(id: j, score: score, block: batched ? Self.extract(block, start: starts[gi], count: cLen + m) : block,
                                masks: masks, compressed: compressed, snapKept: keptKeys)
                held.append(item)
                held.sort(by: before)
                if held.count > K { held.removeLast() }   // the dropped chunk's KV is freed here
                progress?(.chunkFinished(index: j, total: chunks.count, tokens: cLen + m, nll: nll))
            }
            i += group.count
        }
        timings["chunk_prefill_s"] = Date().timeIntervalSince(t0)
        timings["chunks_reused"] = Double(skipped)

        // ---- combine the kept caches in document order ----
        let kept = held.sorted { $0.id < $1.id }
        for k in kept { chunks[k.id].kept = true }
        let combined = model.makeCache()
        var spans: [Range<Int>] = []
        var masks: [[[UInt8]?]] = Array(repeating: Array(repeating: nil, count: H), count: c.layerCount)
        var nominalS = 0
        for (n, k) in kept.enumerated() {
            let cLen = chunks[k.id].contextLength
            let drop = (n == 0 || config.keepEveryChunkFirstToken) ? 0 : min(1, cLen)
            // The official sum_windows_size: what the slices [0:] and [1:] leave of each cache
            // (SnapKV shortens it; calibration does not count).
            if let kk = k.snapKept?.first?.first {
                nominalS += kk.filter { $0 >= drop }.count - (n > 0 && config.snapKVDropFirstKept && kk.contains { $0 >= drop } ? 1 : 0)
            } else {
                nominalS += cLen - drop
            }
            let start = combined.count
            combined.append(k.block, from: drop, count: cLen - drop)
            spans.append(start..<combined.count)
            for x in 0..<log.compression.count { log.compression[x] += k.compressed[x] }
            if let kk = k.snapKept { snapKept[String(k.id)] = kk }
            for l in 0..<c.layerCount {
                for h in 0..<H {
                    var src = k.masks[l][h]
                    // Official slice [1:] of a later chunk's compressed cache drops its first kept
                    // token, taking it for a BOS that SnapKV never kept (spec 3.1, Q8).
                    if n > 0, k.snapKept != nil, config.snapKVDropFirstKept, var mk = src,
                       let first = (drop..<cLen).first(where: { mk[$0] == 1 }) {
                        mk[first] = 0; src = mk
                    }
                    if src == nil && masks[l][h] == nil { continue }
                    var mk = masks[l][h] ?? Array(repeating: 1, count: start)
                    if mk.count < start { mk += Array(repeating: 1, count: start - mk.count) }
                    if let src {
                        mk += Array(src[drop..<cLen])
                    } else {
                        mk += Array(repeating: 1, count: cLen - drop)
                    }
                    masks[l][h] = mk
                }
            }
        }
        for l in 0..<c.layerCount { for h in 0..<H { if let mk = masks[l][h] { combined.setKeepMask(layer: l, head: h, mk) } } }
        held = []
        let S = combined.count
        let P = kept.map { chunks[$0.id].contextLength }.max() ?? 0

        // ---- stage 1: the question over the combined cache, at positions P, P+1, ... ----
        let cachePerLayer = (0..<c.layerCount).map { combined.keptCount(layer: $0, head: 0) }
        if cancelled() { throw CancellationError() }
        progress?(.queryPrefill(keys: S, queryTokens: m))
        let t1 = Date()
        let scope = ObservationScope(stage: .global, chunkSpans: spans, chunkIDs: kept.map(\.id), queryKeyStart: S,
                                     queryRowStart: S, queryRowCount: m, firstRowKey: S)
        let hook = queryRules.isEmpty ? nil : CalibrationHook(rules: queryRules, policy: policy, rows: config.calibrationRows,
                                                              kernel: model.kernel, candidates: 0..<(config.protectQuestionKeys ? S : S + m),
                                                              passEndKey: S + m, duringPass: pending, layers: c.layerCount, heads: H)
        combined.alignment = config.evictionAlignment
        var logits = try model.forward(tokens: q, positions: Array(P..<(P + m)), cache: combined, layout: .causal(rows: m),
                                       logitRows: [m - 1], observers: observers, scope: scope, hook: hook, stageName: "question prefill")
        combined.settleEvictions()
        if let hook { log.calibrationQuery = hook.evicted; log.outliersQuery = hook.outliers }
        let top20 = Array((0..<c.vocabSize).sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }.prefix(20))
        let top20Logits = top20.map { logits[$0] }
        timings["query_prefill_s"] = Date().timeIntervalSince(t1)

        // ---- optional: the expected answer's NLL, teacher-forced, then rolled back ----
        var answerNLL: Double?
        if let a = scoreAnswer, !a.isEmpty {
            var total = Perplexity.logSoftmax(logits[0..<c.vocabSize], a[0])
            if a.count > 1 {
                let fed = Array(a.dropLast())
                let l2 = try model.forward(tokens: fed, positions: Array((P + m)..<(P + m + fed.count)), cache: combined,
                                           layout: .causal(rows: fed.count), logitRows: Array(0..<fed.count), stageName: "answer scoring")
                for t in 1..<a.count { total += Perplexity.logSoftmax(l2[((t - 1) * c.vocabSize)..<(t * c.vocabSize)], a[t]) }
                combined.truncate(to: S + m)
            }
            answerNLL = total / Double(a.count)
        }

        // ---- stage 2: decoding ----
        let t2 = Date()
        var answer: [Int] = []
        if generate {
            var sampler = Sampler(config.sampling)
            let stops = tokenizer.stopTokenIDs
            var pos = P + m
            while answer.count < config.maxNewTokens {
                if cancelled() { throw CancellationError() }
                let t = sampler.next(logits[...], banned: answer.isEmpty ? stops : [])
                answer.append(t)
                progress?(.token(t))
                if stops.contains(t) || answer.count == config.maxNewTokens { break }
                let key = combined.count
                let dscope = ObservationScope(stage: .decode, chunkSpans: spans, chunkIDs: kept.map(\.id), queryKeyStart: S,
                                              queryRowStart: key, queryRowCount: 1, firstRowKey: key)
                logits = try model.forward(tokens: [t], positions: [pos], cache: combined, logitRows: [0],
                                           observers: observers, scope: dscope, stageName: "decode")
                pos += 1
            }
        }
        timings["decode_s"] = Date().timeIntervalSince(t2)
        let shown = answer.filter { !tokenizer.stopTokenIDs.contains($0) }
        var result = Result(chunks: chunks, keptChunkIDs: kept.map(\.id), questionIDs: q, answerIDs: answer,
                            answer: tokenizer.decode(shown, skipSpecial: true), queryPosition: P, combinedKeys: S,
                            combinedSpans: spans, evictions: log, timings: timings, answerNLL: answerNLL)
        result.evictedQuery = hook?.evictedKeys
        result.evictedChunk = evictedChunk
        result.snapKVKept = snapKept
        result.cachePerLayer = cachePerLayer
        result.top20IDs = top20
        result.top20Logits = top20Logits
        result.nominalCacheLength = nominalS
        return result
    }

    /// The question's NLL from logits at rows c-1 ..< c+m-1 (row t predicts question token t; with
    /// the question BOS, t = 0 is that BOS). `official`: labels equal to `eos` are ignored and the
    /// sum is divided by (labels counted - 1), as the official code's loss does (spec section 2).
    public static func questionNLL(logits: [Float], vocab V: Int, question q: [Int], scoreTokens: Int,
                                   formula: ParallelCompConfig.NLLFormula, eos: Int? = nil) -> Double {
        let m = q.count
        let first = scoreTokens > 0 ? max(0, m - scoreTokens) : 0
        var total = 0.0, counted = 0
        for t in first..<m {
            if formula == .official, let eos, q[t] == eos { continue }
            total += Perplexity.logSoftmax(logits[(t * V)..<((t + 1) * V)], q[t])
            counted += 1
        }
        switch formula {
        case .mean: return total / Double(max(1, counted))
        case .official: return total / Double(max(1, counted - 1))
        }
    }

    /// Copy one chunk's tokens out of a batched pass's block into a block of its own, so that the
    /// batch's block can be freed when the chunk is the only one kept.
    static func extract(_ b: KVBlock, start: Int, count: Int) -> KVBlock {
        let out = KVBlock(layers: b.layers, kvHeads: b.kvHeads, headDim: b.headDim, capacity: count)
        for l in 0..<b.layers {
            for g in 0..<b.kvHeads {
                out.keys(layer: l, head: g).update(from: b.keys(layer: l, head: g) + start * b.headDim, count: count * b.headDim)
                out.values(layer: l, head: g).update(from: b.values(layer: l, head: g) + start * b.headDim, count: count * b.headDim)
            }
        }
        out.count = count
        return out
    }
}
