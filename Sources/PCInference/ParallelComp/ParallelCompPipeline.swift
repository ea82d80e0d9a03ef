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
    /// Finished chunk passes shared with other runs over the same chunks (nil, the default:
    /// every pass that is not skipped runs). See `ChunkPassMemo`.
    public var passMemo: ChunkPassMemo?

    /// One chunk of the document.
    public struct Chunk: Codable, Sendable {
        public var id: Int
        /// Offsets of its content tokens in the tokenised document (token split), else nil.
        public var documentTokens: Range<Int>?
        /// Offsets of its text in the document, in Unicode scalars (character split), else nil.
        public var documentCharacters: Range<Int>?
        /// Token ids as prefilled: BOS (official layout) or the chat prefix, then the content.
        public var tokens: [Int]
        /// The question part of this chunk's pass when it differs from the run's `BOS q`: the
        /// official code keeps only its last R - c - 1 tokens when the pass would pass R.
        public var questionTokens: [Int]?
        /// c_i before the official F cap middle-cut the chunk (nil: not cut). SnapKV's budget C'
        /// counts this length, as the official code does.
        public var uncappedLength: Int?
        /// Context length c_i (prefix + content), i.e. the tokens kept in the combined cache.
        public var contextLength: Int { tokens.count }
        /// c_i before any cap: what the official budgets count.
        public var originalLength: Int { uncappedLength ?? tokens.count }
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
        /// The official length budget R when the final question may need its middle cut (the
        /// character split); nil otherwise.
        public var lengthBudget: Int?
        /// Chunk ids kept whatever their score (the eviction lab's oracle-chunk mode).
        public var keepChunkIDs: Set<Int> = []

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

        /// The chunk holding a character of the document (`characterOffset` counts Swift
        /// Characters of the context), by token offsets (token splits) or Unicode-scalar offsets
        /// (the character split); `tokenOffset` is the character's token index in the document.
        public func chunkIndex(context: String, characterOffset: Int, tokenOffset: () -> Int) -> Int? {
            if chunks.contains(where: { $0.documentCharacters != nil }) {
                let scalar = context.prefix(characterOffset).unicodeScalars.count
                return chunks.firstIndex { $0.documentCharacters?.contains(scalar) ?? false }
            }
            let t = tokenOffset()
            return chunks.firstIndex { $0.documentTokens?.contains(t) ?? false }
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
        /// Keys the compression after the question prefill removed (`stage_eviction`), [layer][head].
        public var evictedStage: [[[Int]]]?
        /// Keys decode-time eviction removed after each step (`kv_cache_dynamic`), [step][layer][head].
        public var evictedDecodeSteps: [[[[Int]]]] = []
        /// The same keys over all steps, [layer][head], sorted (nil without decode-time eviction).
        public var evictedDecode: [[[Int]]]? {
            guard let first = evictedDecodeSteps.first else { return nil }
            return first.indices.map { l in first[l].indices.map { h in evictedDecodeSteps.flatMap { $0[l][h] }.sorted() } }
        }
        /// The question part of every chunk pass that did not cut it (`BOS q`).
        public var chunkPassQuestion: [Int] = []
        /// Every decode forward's 20 largest logits (they choose the next token).
        public var decodeTop20: [TopLogits] = []
        public var evictedChunk: [String: [[[Int]]]] = [:]
        /// Calibration's evictions per pass, the counts a v5 matched control replays.
        public var calibrationCounts: CalibrationCounts {
            var out = CalibrationCounts()
            for (id, keys) in evictedChunk { if let i = Int(id) { out[CalibrationPass.chunk(i)] = keys.flatMap { $0.map(\.count) } } }
            if let q = evictedQuery { out[CalibrationPass.question] = q.flatMap { $0.map(\.count) } }
            return out
        }
        public var snapKVKept: [String: [[[Int]]]] = [:]
        /// The eviction lab's kept keys per kept chunk id -> [layer][head] -> chunk-local indices.
        public var policyKept: [String: [[[Int]]]] = [:]
        /// What the lab policy kept by band in every chunk pass (nil without --policy).
        public var policyBands: PolicyBandLog?
        /// Keys each layer's heads still see after the question prefill (the first head's count).
        public var cachePerLayer: [Int] = []
        /// The official code's S (sum_windows_size): the combined length its slices give.
        public var nominalCacheLength = 0
        /// KV pairs the context left in the combined cache, summed over layers and KV heads (a KV
        /// head stores the union of its query heads' keys); x head_dim x 2 x 4 bytes in float32.
        public var storedKVPairs = 0
        /// The last question row's 20 largest logits, before decoding.
        public var top20IDs: [Int] = []
        public var top20Logits: [Float] = []
    }

    public init(model: LlamaModel, tokenizer: Tokenizer, config: ParallelCompConfig, format: PromptFormat) {
        self.model = model; self.tokenizer = tokenizer; self.config = config; self.format = format
    }

    /// The token the official code writes as BOS: the tokenizer's, or for a model without one
    /// (SmolLM2) the leading special token of its chat turn (`<|im_start|>`).
    public var bosID: Int? { PromptFormat.bosID(tokenizer) }

    /// The question as prefilled: `BOS q` (official) or `q` (--no-question-bos).
    public func questionTokens(_ q: [Int]) -> [Int] {
        guard config.questionBOS, let b = bosID else { return q }
        return [b] + q
    }

    /// The official R (`raw_model_max_len`): given, or the trained context less the answer budget.
    public var lengthBudget: Int { config.rawModelMaxLen ?? (model.config.contextLength - config.maxNewTokens) }

    /// Default chunk size Cw: R - 2 (m + 1), so that F - Cw >= m + 1 and no chunk pass cuts the
    /// question (m = question tokens without BOS).
    public func defaultChunkTokens(questionLength m: Int) -> Int {
        lengthBudget - 2 * (m + 1)
    }

    /// BOS as a token list (empty for a model without one).
    private var bosTokens: [Int] { bosID.map { [$0] } ?? [] }

    /// A chunk's tokens from its text (character split): official layout, the formatted string
    /// tokenised once after BOS; chat layout, the prefix and the text tokenised apart.
    func chunkTokens(text: String, prefix: [Int]) -> [Int] {
        switch format.layout {
        case .official: return bosTokens + tokenizer.encode(format.formatContext(text), parseSpecial: true, addBOS: false)
        case .chat: return prefix + tokenizer.encode(text, parseSpecial: false, addBOS: false)
        }
    }

    /// Split the context and tokenise the question. Throws on unusable input.
    public func prepare(context: String, question: String) throws -> Prepared {
        guard !context.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw ConfigError("the context is empty") }
        let q = format.questionIDs(tokenizer, question: question)
        // Every chunk is lead + content + suffix: BOS and the template's words around the content
        // (official layout), or the chat prefix and the content.
        let lead = format.leadIDs(tokenizer), suffix = format.suffixIDs(tokenizer)
        let ids = tokenizer.encode(context, parseSpecial: false, addBOS: false)
        var cw = config.chunkTokens ?? defaultChunkTokens(questionLength: q.count)
        let frame = lead.count + suffix.count
        if config.causal {
            // One chunk holding everything: plain causal attention, within the trained context only.
            cw = frame + ids.count
            let need = cw + questionTokens(q).count + config.maxNewTokens
            guard need <= model.config.contextLength else {
                throw ConfigError("causal: context (\(ids.count) tokens), question and answer need \(need) positions, beyond the trained context \(model.config.contextLength)")
            }
        }
        guard cw > frame + 16 else {
            throw ConfigError("chunk size \(cw) tokens leaves no room for text after the \(frame)-token template (question is \(q.count) tokens)")
        }
        guard q.count + cw <= model.config.contextLength * 4 else { throw ConfigError("chunk size \(cw) is far beyond the model's trained context \(model.config.contextLength)") }
        guard q.count < cw else {
            throw ConfigError("the question (\(q.count) tokens) is longer than the chunk size (\(cw) tokens)")
        }
        guard config.keepChunks >= 1 else { throw SettingError.keepChunksBelowOne }
        if let lab = config.evictionLab {
            try lab.check()
            guard config.compression == nil else { throw ConfigError("an eviction-lab policy cannot be combined with SnapKV compression (capacity): use the snapkv policy") }
            guard config.batchChunks <= 1 else { throw SettingError.labWithBatchedChunks }
            if lab.setting == .kvpress && !config.causal { throw ConfigError("the kvpress lab setting needs causal attention (one context inside the trained context)") }
        }
        if config.batchChunks > 1 && (config.compression != nil || !config.calibrationRules(at: .chunk).isEmpty) {
            throw SettingError.batchedChunksNeedOnePass
        }
        for r in config.calibration where r.layers.upperBound >= model.config.layerCount {
            throw ConfigError("calibration rule \(r) names layer \(r.layers.upperBound), but the model has layers 0-\(model.config.layerCount - 1)")
        }
        if config.splitBy == .characters && !config.causal {
            return try prepareOfficialSplit(q: q, ids: ids, cw: cw, lead: lead)
        }
        let content = cw - frame
        let ranges: [Range<Int>]
        switch config.splitBy {
        case .tokens, .characters:
            ranges = Chunker.byTokens(count: ids.count, maxTokens: content)
        case .sentences:
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
        let chunks = ranges.enumerated().map { i, r in Chunk(id: i, documentTokens: r, tokens: lead + ids[r] + suffix) }
        return Prepared(chunks: chunks, questionIDs: q, prefixLength: lead.count, documentTokenCount: ids.count, chunkTokens: cw)
    }

    /// The official text path (docs/parallelcomp.md, "Chunking"): n = ceil(T / Cw) with T counting
    /// BOS, the decoded text cut every floor(N / n) characters, each piece formatted and
    /// tokenised; a chunk longer than F = Cw + (R - Cw) / 2 keeps its first and last F / 2 tokens
    /// (official layout: decoded with special tokens and re-tokenised after BOS, so it starts
    /// `BOS BOS`), and a pass whose chunk and question would pass the budget keeps only the
    /// question's last tokens.
    private func prepareOfficialSplit(q: [Int], ids: [Int], cw: Int, lead: [Int]) throws -> Prepared {
        let R = lengthBudget
        guard cw < R else {
            throw SettingError.chunkNotBelowLengthBudget(chunkTokens: cw, budget: R)
        }
        let F = cw + (R - cw) / 2
        let T = ids.count + (bosID == nil ? 0 : 1)
        let text = tokenizer.decode(ids, skipSpecial: true)
        let fullQuestion = questionTokens(q), m = fullQuestion.count
        let prefix = format.prefixIDs(tokenizer)
        var chunks: [Chunk] = []
        for (i, piece) in Chunker.byCharacters(text: text, tokenCount: T, maxTokens: cw).enumerated() {
            var ch = Chunk(id: i, documentTokens: nil, tokens: chunkTokens(text: piece.text, prefix: prefix))
            ch.documentCharacters = piece.scalars
            let c = ch.tokens.count
            var keepQuestion = m
            if c > F {
                let h = F / 2, cut = Array(ch.tokens.prefix(h) + ch.tokens.suffix(h))
                ch.tokens = format.layout == .official
                    ? bosTokens + tokenizer.encode(tokenizer.decode(cut, skipSpecial: false), parseSpecial: true, addBOS: false)
                    : cut
                ch.uncappedLength = c
                keepQuestion = min(R - F - 1, m)
            } else if c + m > F {
                keepQuestion = min(R - c - 1, m)
            }
            guard keepQuestion > 0 else { throw ConfigError("chunk \(i) (\(c) tokens) leaves no room for the question within R = \(R)") }
            if keepQuestion < m { ch.questionTokens = Array(fullQuestion.suffix(keepQuestion)) }
            chunks.append(ch)
        }
        var prep = Prepared(chunks: chunks, questionIDs: q, prefixLength: lead.count, documentTokenCount: ids.count, chunkTokens: cw)
        prep.lengthBudget = R
        return prep
    }

    /// The final question as the official code prefills it: `BOS q`, or when P + m' would pass R,
    /// the decoded text of its first and last (R - P) / 2 tokens (special tokens skipped)
    /// re-tokenised after BOS.
    func finalQuestion(_ question: [Int], queryPosition P: Int, budget R: Int?) -> [Int] {
        guard let R, P + question.count > R, format.layout == .official else { return question }
        let h = max(0, (R - P) / 2)
        let text = tokenizer.decode(Array(question.prefix(h)), skipSpecial: true) + tokenizer.decode(Array(question.suffix(h)), skipSpecial: true)
        return questionTokens(tokenizer.encode(text, parseSpecial: true, addBOS: false))
    }

    /// Run the whole pipeline. Observers receive every pass (they pick stages themselves).
    /// Checks a prepared input against the model before running.
    public func validate(_ prep: Prepared) throws {
        try config.evictionLab?.check(model: model.config)
        let V = model.config.vocabSize
        for ch in prep.chunks { for t in ch.tokens where t < 0 || t >= V { throw ConfigError("token id \(t) in chunk \(ch.id) is outside the vocabulary (0..<\(V))") } }
        for t in prep.questionIDs where t < 0 || t >= V { throw ConfigError("question token id \(t) is outside the vocabulary (0..<\(V))") }
    }

    /// Run the pipeline, stage by stage as the paper describes it. `scoreAnswer`: token ids of an
    /// expected answer whose NLL is measured by teacher forcing after the question (the cache is
    /// rolled back before decoding). Observers receive every pass (they pick stages themselves).
    public func run(_ prep: Prepared, observers: [AttentionObserver] = [], generate: Bool = true, scoreAnswer: [Int]? = nil,
                    progress: ((Event) -> Void)? = nil, cancelled: () -> Bool = { false }) throws -> Result {
        try validate(prep)
        let st = RunState(pipeline: self, prep: prep)
        if config.evictionLab?.setting == .kvpress {
            try compressContext(st, observers: observers, progress: progress)                 // the eviction lab's kvpress setting
        } else {
            try scoreChunks(st, observers: observers, progress: progress, cancelled: cancelled)   // stage 0: prefill, score, compress, keep K
            combineKept(st)                                                                       // the kept caches, in document order
        }
        st.storedKVPairs = st.combined.storedPairs(before: st.combined.count)
        if cancelled() { throw CancellationError() }
        try prefillQuestion(st, observers: observers, progress: progress)                     // stage 1: BOS q after the longest chunk
        if let a = scoreAnswer, !a.isEmpty { try scoreExpectedAnswer(a, st) }
        try decode(st, generate: generate, observers: observers, progress: progress, cancelled: cancelled)   // stage 2
        return st.result(tokenizer)
    }

    /// The question's NLL from logits at rows c-1 ..< c+m-1 (row t predicts question token t; with
    /// the question BOS, t = 0 is that BOS). See `LabelNLL` for the formulas.
    public static func questionNLL(logits: [Float], vocab V: Int, question q: [Int], scoreTokens: Int,
                                   formula: ParallelCompConfig.NLLFormula, eos: Int? = nil) -> Double {
        var sum = LabelNLL(formula: formula, eos: eos)
        for t in (scoreTokens > 0 ? max(0, q.count - scoreTokens) : 0)..<q.count {
            sum.add(logits[(t * V)..<((t + 1) * V)], label: q[t])
        }
        return sum.value
    }

    /// A running NLL of labels. `official`: labels equal to `eos` are ignored and the sum is divided
    /// by (labels counted - 1), as the official code's loss does (spec section 2); `mean`: the mean.
    struct LabelNLL {
        let formula: ParallelCompConfig.NLLFormula
        let eos: Int?
        var total = 0.0, counted = 0
        init(formula: ParallelCompConfig.NLLFormula, eos: Int?) { self.formula = formula; self.eos = eos }
        mutating func add(_ logits: ArraySlice<Float>, label: Int) {
            if formula == .official, let eos, label == eos { return }
            total += Perplexity.logSoftmax(logits, label)
            counted += 1
        }
        var value: Double {
            switch formula {
            case .mean: return total / Double(max(1, counted))
            case .official: return total / Double(max(1, counted - 1))
            }
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
        out.positions.update(from: b.positions + start, count: count)
        out.count = count
        return out
    }
}

/// The largest logits of one row, largest first (ties: the lower id first).
public struct TopLogits: Codable, Sendable, Equatable {
    public var ids: [Int]
    public var logits: [Float]
    public init(_ row: [Float], count k: Int) {
        var best: [(Float, Int)] = []
        best.reserveCapacity(k + 1)
        for (i, v) in row.enumerated() where best.count < k || v > best[best.count - 1].0 {
            var j = best.count
            while j > 0 && best[j - 1].0 < v { j -= 1 }
            best.insert((v, i), at: j)
            if best.count > k { best.removeLast() }
        }
        ids = best.map(\.1); logits = best.map(\.0)
    }
}
