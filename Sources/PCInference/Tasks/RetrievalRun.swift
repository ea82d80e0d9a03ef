import Foundation

/// What one retrieval example through ParallelComp produced, and where its needle went.
public struct RetrievalOutcome: Codable, Sendable {
    public var answer: String
    public var correct: Bool
    public var keptChunks: [Int]
    public var keptNLL: [Double]
    /// The chunk holding the needle's first token, its NLL, the needle's offset in it (tokens),
    /// and whether the chunk boundary cuts the needle (token split only).
    public var needleChunk: Int?
    public var needleChunkNLL: Double?
    public var needleOffset: Int?
    public var needleChunkTokens: Int?
    public var needleSplit = false
    /// Mean NLL of the expected answer, teacher-forced after the question.
    public var answerNLL: Double?
    /// Attention mass the question rows put on the needle's tokens in the global pass, averaged
    /// over question rows, layers and heads (0 when the needle's chunk was not kept).
    public var needleMass: Double?
    public var seconds: Double
    /// Bytes of K and V the context left in the cache the question reads (float32; per layer and
    /// KV head, the keys any of its query heads still sees).
    public var kvBytes: Double?
    public var chunkCount: Int
    public var chunksReused: Int
    /// Chunks not prefilled because forced chunks (the needle's, `keepNeedleChunk`) filled the
    /// keep budget (not written to JSON).
    public var chunksUnscored = 0
    /// What the run evicted (not written to JSON; the claims' manipulation checks read it).
    public var evictions: EvictionLog?
    /// Calibration's evictions per pass (not written to JSON): what a matched control replays.
    public var calibrationCounts: CalibrationCounts = [:]
    /// The lab policy's kept keys and band log (`Result.policyKept`, `policyBands`), and the
    /// chunk-local keys of the evidence (every needle carrying the answer) per chunk id, with
    /// --measure (not written to JSON; the eviction lab's accounting reads them).
    public var policyKept: [String: [[[Int]]]] = [:]
    public var policyBands: PolicyBandLog?
    public var evidenceKeys: [String: [Int]] = [:]

    enum CodingKeys: String, CodingKey {
        case answer, correct, keptChunks = "kept_chunks", keptNLL = "kept_chunk_nll", needleChunk = "needle_chunk"
        case needleChunkNLL = "needle_chunk_nll", needleOffset = "needle_offset", needleChunkTokens = "needle_chunk_tokens"
        case needleSplit = "needle_split", answerNLL = "answer_nll", needleMass = "needle_mass", seconds, kvBytes = "kv_bytes"
        case chunkCount = "chunks", chunksReused = "chunks_reused"
    }
}

/// Runs retrieval examples through a pipeline and measures them.
public enum RetrievalRunner {
    /// The needle's token range in the tokenised context. Tokens at the needle's edges can merge
    /// with their neighbours (a filler's trailing space joins "The"), so the range is where the
    /// tokens of the text before the needle stop matching the full context's tokens.
    public static func needleTokens(_ ex: RetrievalExample, tokenizer tok: Tokenizer) -> Range<Int> {
        let full = tok.encode(ex.context, parseSpecial: false, addBOS: false)
        func agreeing(_ end: Int) -> Int {
            let ids = tok.encode(String(ex.context.prefix(end)), parseSpecial: false, addBOS: false)
            var i = 0
            while i < ids.count && i < full.count && ids[i] == full[i] { i += 1 }
            return i
        }
        let a = agreeing(ex.needle.lowerBound)
        return a..<max(a + 1, agreeing(ex.needle.upperBound))
    }

    /// The chunk-local key indices of the needle's tokens in one chunk: by token offsets (token
    /// splits), or (character split) where the tokens of the chunk's text up to the needle's first
    /// and last character stop agreeing with the chunk's tokens. A chunk the F cap middle-cut has
    /// no reliable map and gives none.
    static func needleKeys(_ ex: RetrievalExample, chunk ch: ParallelCompPipeline.Chunk, prep: ParallelCompPipeline.Prepared,
                           tokenSpan span: Range<Int>, pipeline pc: ParallelCompPipeline) -> [Int] {
        if let d = ch.documentTokens {
            return span.filter { d.contains($0) }.map { prep.prefixLength + ($0 - d.lowerBound) }
        }
        guard let d = ch.documentCharacters, ch.uncappedLength == nil else { return [] }
        let a = ex.context.prefix(ex.needle.lowerBound).unicodeScalars.count
        let b = ex.context.prefix(ex.needle.upperBound).unicodeScalars.count
        let lo = max(a, d.lowerBound), hi = min(b, d.upperBound)
        guard lo < hi else { return [] }
        let scalars = Array(ex.context.unicodeScalars), prefix = pc.format.prefixIDs(pc.tokenizer)
        func agreeing(_ end: Int) -> Int {
            var u = String.UnicodeScalarView(); u.append(contentsOf: scalars[d.lowerBound..<end])
            let ids = pc.chunkTokens(text: String(u), prefix: prefix)
            var i = 0
            while i < ids.count && i < ch.tokens.count && ids[i] == ch.tokens[i] { i += 1 }
            return i
        }
        let start = agreeing(lo)
        return Array(start..<max(start + 1, agreeing(hi)))
    }

    /// Chunk id -> chunk-local keys of every evidence needle (`ex.evidence`, else `ex.needle`)
    /// in that chunk; empty for an example without a needle (CWE, FWE).
    static func evidenceKeys(_ ex: RetrievalExample, prep: ParallelCompPipeline.Prepared, pipeline pc: ParallelCompPipeline) -> [String: [Int]] {
        var out: [String: Set<Int>] = [:]
        for range in ex.evidence ?? [ex.needle] where !range.isEmpty {
            var e = ex; e.needle = range
            let span = needleTokens(e, tokenizer: pc.tokenizer)
            for ch in prep.chunks {
                let keys = needleKeys(e, chunk: ch, prep: prep, tokenSpan: span, pipeline: pc)
                if !keys.isEmpty { out[String(ch.id), default: []].formUnion(keys) }
            }
        }
        return out.mapValues { $0.sorted() }
    }

    /// `keepNeedleChunk`: keep the needle's chunk whatever its score (as `--oracle-chunk` does),
    /// so an intervention is measured apart from chunk selection.
    public static func run(_ ex: RetrievalExample, pipeline pc: ParallelCompPipeline, measure: Bool = false, keepNeedleChunk: Bool = false,
                           cancelled: () -> Bool = { false }) throws -> RetrievalOutcome {
        let t0 = Date()
        let tok = pc.tokenizer, c = pc.model.config
        let input = try prepare(ex, pipeline: pc, keepNeedleChunk: pc.config.evictionLab?.oracleChunk == true || keepNeedleChunk)
        let massObs = measure ? KeyScoreObserver(stage: .global, lastRows: input.prep.questionIDs.count, layers: c.layerCount, heads: c.headCount) : nil
        let answerIDs = measure ? Self.answerIDs(ex, tok) : nil
        let r = try pc.run(input.prep, observers: massObs.map { [$0] } ?? [], scoreAnswer: answerIDs, cancelled: cancelled)
        var out = outcome(ex, input, result: r, measure: measure, mass: massObs, pipeline: pc)
        out.seconds = Date().timeIntervalSince(t0)
        return out
    }

    /// The expected answer's tokens as scored after the prompt: a space, then the answer; a
    /// continuation (ppl) is scored as it is, its first token carrying its own space. The lab's
    /// shared paths use the same ids, so their NLLs equal a run's.
    static func answerIDs(_ ex: RetrievalExample, _ tok: Tokenizer) -> [Int] {
        tok.encode((ex.scoredOnly ? "" : " ") + ex.answer, parseSpecial: false, addBOS: false)
    }

    /// An example split for a pipeline: its prepared input, the needle's token span and the chunk
    /// holding its first token; `keepNeedleChunk` forces that chunk (the lab's oracle chunk).
    public struct Input { public var prep: ParallelCompPipeline.Prepared; public var span: Range<Int>; public var needleChunk: Int? }

    public static func prepare(_ ex: RetrievalExample, pipeline pc: ParallelCompPipeline, keepNeedleChunk: Bool) throws -> Input {
        var prep = try pc.prepare(context: ex.context, question: ex.question)
        let span = needleTokens(ex, tokenizer: pc.tokenizer)
        let needleChunk = prep.chunkIndex(context: ex.context, characterOffset: ex.needle.lowerBound, tokenOffset: { span.lowerBound })
        if keepNeedleChunk, let n = needleChunk { prep.keepChunkIDs = [prep.chunks[n].id] }
        return Input(prep: prep, span: span, needleChunk: needleChunk)
    }

    /// What a run of an example produced and where its needle went (`seconds` left 0); `mass`:
    /// the question rows' attention in the run's question prefill, for the needle's mass.
    public static func outcome(_ ex: RetrievalExample, _ input: Input, result r: ParallelCompPipeline.Result, measure: Bool,
                               mass massObs: KeyScoreObserver?, pipeline pc: ParallelCompPipeline) -> RetrievalOutcome {
        let c = pc.model.config, prep = input.prep, span = input.span, m = prep.questionIDs.count
        var out = RetrievalOutcome(answer: r.answer, correct: ex.isCorrect(r.answer), keptChunks: r.keptChunkIDs,
                                   keptNLL: r.keptChunkIDs.map { r.chunks[$0].nll ?? .nan }, answerNLL: r.answerNLL,
                                   seconds: 0, chunkCount: prep.chunks.count, chunksReused: Int(r.timings["chunks_reused"] ?? 0))
        out.evictions = r.evictions
        out.calibrationCounts = r.calibrationCounts
        out.chunksUnscored = Int(r.timings["chunks_unscored"] ?? 0)
        out.policyKept = r.policyKept; out.policyBands = r.policyBands
        if measure { out.evidenceKeys = evidenceKeys(ex, prep: prep, pipeline: pc) }
        out.kvBytes = Double(r.storedKVPairs * c.headDim * 2 * MemoryLayout<Float>.size)
        if let n = input.needleChunk {
            out.needleChunk = n; out.needleChunkNLL = r.chunks[n].nll
            if let d = prep.chunks[n].documentTokens {
                out.needleOffset = span.lowerBound - d.lowerBound; out.needleChunkTokens = d.count
                out.needleSplit = span.upperBound > d.upperBound
            } else if let d = prep.chunks[n].documentCharacters {
                // Character split: whether the needle's last character lies past the chunk's end.
                out.needleSplit = ex.context.prefix(ex.needle.upperBound).unicodeScalars.count > d.upperBound
            }
        }
        if let massObs {
            // Keys of the needle's tokens in the combined cache, over every kept chunk that holds some.
            var keys: [Int] = []
            for (j, id) in r.keptChunkIDs.enumerated() {
                let sp = r.combinedSpans[j]
                let drop = prep.chunks[id].contextLength - sp.count
                for k in needleKeys(ex, chunk: prep.chunks[id], prep: prep, tokenSpan: span, pipeline: pc) {
                    if sp.contains(sp.lowerBound + k - drop) { keys.append(sp.lowerBound + k - drop) }
                }
            }
            var total = 0.0
            for l in 0..<c.layerCount {
                for h in 0..<c.headCount {
                    let s = massObs.scores(layer: l, head: h)
                    for k in keys { total += Double(s[s.startIndex + k]) }
                }
            }
            out.needleMass = total / Double(m * c.layerCount * c.headCount)
        }
        return out
    }
}
