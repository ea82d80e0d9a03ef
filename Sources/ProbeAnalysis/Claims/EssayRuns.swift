import Foundation
import PCInference

/// Where the keys of one chunk sit in a cache, split the way the claims need it: the template
/// prefix (identical in every chunk: same tokens, same positions, causal, so its keys are
/// bit-identical copies), then the content, whose first `sink` keys are the content sink and
/// whose last `recent` keys the recent tail.
public struct ChunkBands: Sendable {
    public var span: Range<Int>
    public var content: Range<Int>
    public var sink: Int, recent: Int
    public init(span: Range<Int>, content: Range<Int>, sink: Int, recent: Int) { self.span = span; self.content = content; self.sink = sink; self.recent = recent }
    public var template: Range<Int> { span.lowerBound..<content.lowerBound }
    public var contentSink: Range<Int> { content.lowerBound..<min(content.upperBound, content.lowerBound + sink) }
    public var tail: Range<Int> { max(contentSink.upperBound, content.upperBound - recent)..<content.upperBound }
    public var middle: Range<Int> { contentSink.upperBound..<tail.lowerBound }
    /// Appendix C's sink band: the chunk's first `sink` keys as cached, template keys included
    /// (under the chat layout they are template copies; under the official layout, content).
    public var cachedHead: Range<Int> { span.lowerBound..<min(span.upperBound, span.lowerBound + sink) }
    /// Appendix C's middle: everything between the cached head and the tail.
    public var cachedMiddle: Range<Int> { cachedHead.upperBound..<max(cachedHead.upperBound, tail.lowerBound) }

    /// Bands of every span holding `width` content tokens after whatever prefix it kept.
    public static func of(_ spans: [Range<Int>], width: Int, sink: Int, recent: Int) -> [ChunkBands] {
        spans.map { sp in ChunkBands(span: sp, content: max(sp.lowerBound, sp.upperBound - width)..<sp.upperBound, sink: sink, recent: recent) }
    }
}

/// What one essay example's runs measured (the statistics read these, nothing else).
public struct EssayRuns: Sendable {
    public var layers = 0, heads = 0, chunks = 0, width = 0, band = 0
    public init() {}
    /// Official run (later chunks' first token dropped, every chunk kept).
    public var bands: [ChunkBands] = []
    public var global = KeyTable(keys: 0, values: [])          // all question rows
    public var globalLast = KeyTable(keys: 0, values: [])      // last question row (the calibration score)
    public var globalLast8 = KeyTable(keys: 0, values: [])     // last 8 question rows (SnapKV's window)
    public var local: [KeyTable] = []                          // per chunk, its question rows over [chunk ; question]
    public var localBands: [ChunkBands] = []
    public var globalEntropy: [Double] = [], globalMax: [Double] = []
    public var decodeEntropy: [Double] = []
    public var above: [Double] = [], top1: [Double] = []       // local concentration at `width`
    public var reach: [Double] = [], reachDistance = 0         // full-reach distance profile [lh][Δ]
    /// Every chunk's first token kept.
    public var keptBands: [ChunkBands] = []
    public var kept = KeyTable(keys: 0, values: [])
    /// Normal attention: one chunk holding the same content.
    public var normalEntropy: [Double] = [], normalLast8 = KeyTable(keys: 0, values: []), normalContext = 0
    public var normalAbove: [Double] = [], normalTop1: [Double] = []
    /// T11's small chunks.
    public var smallAbove: [Double] = [], smallTop1: [Double] = []
    /// T6: decode-row entropy with global (after the question) and per-chunk SnapKV eviction.
    public var decodeEntropyGlobalEviction: [Double] = [], decodeEntropyChunkEviction: [Double] = []
    /// T7-T9: question-stage calibration runs. T7 evicts in the first quarter (early) and in
    /// the third (deep: the paper's layers 17-24), so the quarter after each is downstream of it.
    public var entropySinkEarly: [Double] = [], entropySinkDeep: [Double] = []
    /// Keys each run's calibration evicted, per (layer, head): the manipulation checks.
    public var evictedSinkEarly: [Double] = [], evictedSinkDeep: [Double] = [], evictedRecentDeep: [Double] = [], evictedBothMid: [Double] = []
    public var globalRecentDeep = KeyTable(keys: 0, values: [])
    public var entropyBothMid: [Double] = [], maxBothMid: [Double] = []
    public var midLayer = 0
    /// Protocol v3's matched controls: the same runs with `calibrationControl = .random` (as
    /// many keys per head and pass as the rule evicted, drawn at random); empty before v3.
    public var control = EssayControls()
    /// The keys T8's rule run evicted, [layer][head] -> key indices (for survivor-only masses).
    public var evictedKeysRecentDeep: [[[Int]]] = []

    public struct EssayControls: Sendable {
        public var entropySinkEarly: [Double] = [], entropySinkDeep: [Double] = [], entropyBothMid: [Double] = []
        public var globalRecentDeep = KeyTable(keys: 0, values: [])
        public var evictedKeysRecentDeep: [[[Int]]] = []
        public init() {}
    }

    /// Protocol v5: per layer, whether every question row of the official run's global pass sees
    /// every chunk key (false where a sliding window shorter than the question's position hides
    /// the chunks' first keys); `reachAll`: the same in every pass of the example (the normal-
    /// attention pass, one chunk holding all the content, is the longest). Empty: every layer.
    public var reachGlobal: [Bool] = [], reachAll: [Bool] = []

    public var lhCount: Int { layers * heads }
    /// Flat (layer, head) indices the band and concentration statistics count (v5): the heads
    /// whose measured rows see every key, in the global pass or in every pass. A head that cannot
    /// see the sink band would count as "recent beats sink" by its mask, not by its attention.
    public func reaching(allPasses: Bool = false) -> [Int] {
        let m = allPasses ? reachAll : reachGlobal
        return (0..<lhCount).filter { m.isEmpty || m[$0 / heads] }
    }
    /// Per layer: whether a row at `lastRowPosition` sees a key at position 0 (chunks restart at 0).
    public static func reach(_ c: ModelConfig, lastRowPosition p: Int) -> [Bool] {
        (0..<c.layerCount).map { l in c.attentionWindow(layer: l).map { p < $0 } ?? true }
    }
    public func quarter(_ l: Int) -> Int { min(3, l * 4 / layers) }
    public func layersOf(quarter q: Int) -> ClosedRange<Int> { (q * layers / 4)...((q + 1) * layers / 4 - 1) }
    /// Flat (layer, head) indices of the layers given.
    public func heads(of ls: ClosedRange<Int>) -> [Int] { ls.flatMap { l in (0..<heads).map { l * heads + $0 } } }
    public func headsOf(quarter q: Int) -> [Int] { heads(of: layersOf(quarter: q)) }
}

/// Runs the pipeline variants of one essay example.
public struct EssayRunner {
    public let model: LlamaModel
    public let tok: Tokenizer
    public let settings: ClaimSettings
    public let doc: [Int]
    /// Chunk passes shared by the runs (most repeat the official run's passes), or nil.
    public var passes: ChunkPassMemo? = nil
    /// Log each run's tokens and seconds (`claims run` sets it from BIASPROBE_CLAIMS_TIMING).
    public var logTiming = false
    public init(model: LlamaModel, tok: Tokenizer, settings: ClaimSettings, doc: [Int], passes: ChunkPassMemo? = nil) {
        self.model = model; self.tok = tok; self.settings = settings; self.doc = doc; self.passes = passes
    }

    public var format: PromptFormat { ClaimPrompt.format(tok, settings.promptLayout) }

    /// One example's sizes and token lists, shared by its runs.
    struct Example {
        let ex: ClaimExample
        let L: Int, H: Int, C: Int, w: Int, S: Int
        let prefix: [Int], q: [Int]
        /// Each chunk's content tokens; a chunk pass reads prefix + content.
        let content: [[Int]]
        /// Every run's settings before its own changes: all C chunks kept, one answer token.
        let base: ParallelCompConfig
        var chunks: [[Int]] { content.map { prefix + $0 } }
    }

    public func run(_ ex: ClaimExample) throws -> EssayRuns {
        let L = model.config.layerCount, H = model.config.headCount, C = ex.chunks, w = settings.width, S = settings.bandWidth
        var base = ParallelCompConfig()
        base.keepChunks = C; base.maxNewTokens = 1
        let e = Example(ex: ex, L: L, H: H, C: C, w: w, S: S, prefix: format.leadIDs(tok), q: format.questionIDs(tok, question: ex.question),
                        content: (0..<C).map { c in Array(doc[(ex.offset + c * w)..<(ex.offset + (c + 1) * w)]) }, base: base)
        var r = EssayRuns()
        r.layers = L; r.heads = H; r.chunks = C; r.width = w; r.band = S; r.midLayer = L / 2
        // The order is part of the result: later runs reuse the official run's chunk passes.
        try officialRun(e, &r)
        try firstTokensKeptRun(e, &r)
        try normalAttentionRun(e, &r)
        try smallChunksRun(e, &r)
        try evictionDecodeRuns(e, &r)
        try calibrationRuns(e, &r)
        return r
    }

    /// Official run: every observer the attention claims read.
    func officialRun(_ e: Example, _ r: inout EssayRuns) throws {
        let (L, H, C, w, S) = (e.L, e.H, e.C, e.w, e.S)
        var cfg = e.base; cfg.maxNewTokens = 2   // one decode row, observed (T6's baseline)
        let g = QueryKeyMass(stage: .global, layers: L, heads: H), g1 = QueryKeyMass(stage: .global, lastRows: 1, layers: L, heads: H)
        let g8 = QueryKeyMass(stage: .global, lastRows: 8, layers: L, heads: H), loc = QueryKeyMass(stage: .local, layers: L, heads: H)
        let stats = RowStatsObserver(stage: .global, rows: .queryAll, layers: L, heads: H, chunks: C)
        let dec = RowStatsObserver(stage: .decode, rows: .queryAll, layers: L, heads: H, chunks: C)
        let conc = ConcentrationObserver(stage: .local, layers: L, heads: H)
        let reachD = min(w / 2, 256)
        let reach = FullReachProfile(maxDistance: reachD, skip: e.prefix.count + S, layers: L, heads: H)
        let res = try run(cfg, chunks: e.chunks, q: e.q, observers: [g, g1, g8, loc, stats, dec, conc, reach], generate: true)
        r.bands = ChunkBands.of(res.combinedSpans, width: w, sink: S, recent: S)
        r.global = g.tables[0]!; r.globalLast = g1.tables[0]!; r.globalLast8 = g8.tables[0]!
        r.local = (0..<C).map { loc.tables[$0]! }
        r.localBands = ChunkBands.of([0..<(e.prefix.count + w)], width: w, sink: S, recent: S)
        let m = stats.means(); r.globalEntropy = m.entropy.map(Double.init); r.globalMax = m.maxProb.map(Double.init)
        r.decodeEntropy = dec.means().entropy.map(Double.init)
        let cm = conc.means(); r.above = cm.above[0].map(Double.init); r.top1 = cm.top1.map(Double.init)
        r.reach = reach.profile(); r.reachDistance = reachD
        r.reachGlobal = EssayRuns.reach(model.config, lastRowPosition: res.queryPosition + res.questionIDs.count - 1)
    }

    /// Every chunk's first token kept (the observation on the BOS convention).
    func firstTokensKeptRun(_ e: Example, _ r: inout EssayRuns) throws {
        var cfg = e.base; cfg.keepEveryChunkFirstToken = true
        let g = QueryKeyMass(stage: .global, layers: e.L, heads: e.H)
        let res = try run(cfg, chunks: e.chunks, q: e.q, observers: [g])
        r.keptBands = ChunkBands.of(res.combinedSpans, width: e.w, sink: e.S, recent: e.S); r.kept = g.tables[0]!
    }

    /// Normal attention over the same content in one chunk (T5, and T11's largest width).
    func normalAttentionRun(_ e: Example, _ r: inout EssayRuns) throws {
        var cfg = e.base; cfg.keepChunks = 1
        let stats = RowStatsObserver(stage: .global, rows: .queryAll, layers: e.L, heads: e.H, chunks: 1)
        let g8 = QueryKeyMass(stage: .global, lastRows: 8, layers: e.L, heads: e.H)
        let conc = ConcentrationObserver(stage: .local, layers: e.L, heads: e.H)
        let res = try run(cfg, chunks: [e.prefix + e.content.flatMap { $0 }], q: e.q, observers: [stats, g8, conc])
        r.normalEntropy = stats.means().entropy.map(Double.init); r.normalLast8 = g8.tables[0]!; r.normalContext = res.combinedKeys
        let normalReach = EssayRuns.reach(model.config, lastRowPosition: res.queryPosition + res.questionIDs.count - 1)
        r.reachAll = zip(r.reachGlobal, normalReach).map { $0 && $1 }   // the official run came first
        let cm = conc.means(); r.normalAbove = cm.above[0].map(Double.init); r.normalTop1 = cm.top1.map(Double.init)
    }

    /// T11: two small chunks from the same place.
    func smallChunksRun(_ e: Example, _ r: inout EssayRuns) throws {
        let sw = settings.smallWidth, off = e.ex.offset
        let conc = ConcentrationObserver(stage: .local, layers: e.L, heads: e.H)
        var cfg = e.base; cfg.keepChunks = 2
        _ = try run(cfg, chunks: (0..<2).map { c in e.prefix + Array(doc[(off + c * sw)..<(off + (c + 1) * sw)]) }, q: e.q, observers: [conc])
        let cm = conc.means(); r.smallAbove = cm.above[0].map(Double.init); r.smallTop1 = cm.top1.map(Double.init)
    }

    /// T6: half of each chunk's content kept, once over everything after the question (standard
    /// eviction) or inside every chunk (ParallelComp's); decode rows see the result.
    func evictionDecodeRuns(_ e: Example, _ r: inout EssayRuns) throws {
        for stage in [ParallelCompConfig.Compression.Stage.question, .chunk] {
            var cfg = e.base; cfg.maxNewTokens = 2
            cfg.compression = .init(capacity: e.w / 2, stage: stage)
            let dec = RowStatsObserver(stage: .decode, rows: .queryAll, layers: e.L, heads: e.H, chunks: e.C)
            _ = try run(cfg, chunks: e.chunks, q: e.q, observers: [dec], generate: true)
            let entropy = dec.means().entropy.map(Double.init)
            if stage == .question { r.decodeEntropyGlobalEviction = entropy } else { r.decodeEntropyChunkEviction = entropy }
        }
    }

    /// T7-T9: the official question-stage calibration (prefill_2, lambda 0.1, bands of 100): each
    /// intervention runs with the rule's keys, then (v3) as its matched control, which from v5
    /// evicts at random exactly as many keys per head, pass and layer as the rule run did.
    func calibrationRuns(_ e: Example, _ r: inout EssayRuns) throws {
        let (L, H, C) = (e.L, e.H, e.C)
        /// The rule run and its control, each with its own observers.
        func calibrated<O: AttentionObserver>(_ rules: [CalibrationRule], _ makeObserver: () -> O) throws
            -> (rule: (ParallelCompPipeline.Result, O), control: (ParallelCompPipeline.Result, O)) {
            var cfg = e.base; cfg.calibration = rules
            return try PasskeyRunner.withControl(cfg, seed: e.ex.passkeySeed, counts: { $0.0.calibrationCounts }) { c in
                let o = makeObserver()
                return (try run(c, chunks: e.chunks, q: e.q, observers: [o]), o)
            }
        }
        func rowStats() -> RowStatsObserver { RowStatsObserver(stage: .global, rows: .queryAll, layers: L, heads: H, chunks: C) }
        for deepRun in [false, true] {
            let rule = CalibrationRule(band: .sink, layers: r.layersOf(quarter: deepRun ? 2 : 0), stage: .query)
            let (ruled, control) = try calibrated([rule], rowStats)
            let ev = ruled.0.evictions.calibrationQuery.map(Double.init)
            let entropy = ruled.1.means().entropy.map(Double.init), controlEntropy = control.1.means().entropy.map(Double.init)
            if deepRun { r.entropySinkDeep = entropy; r.evictedSinkDeep = ev; r.control.entropySinkDeep = controlEntropy }
            else { r.entropySinkEarly = entropy; r.evictedSinkEarly = ev; r.control.entropySinkEarly = controlEntropy }
        }
        do {
            let (ruled, control) = try calibrated([CalibrationRule(band: .recent, layers: r.layersOf(quarter: 3), stage: .query)]) {
                QueryKeyMass(stage: .global, layers: L, heads: H)
            }
            r.evictedRecentDeep = ruled.0.evictions.calibrationQuery.map(Double.init)
            r.globalRecentDeep = ruled.1.tables[0]!; r.evictedKeysRecentDeep = ruled.0.evictedQuery ?? []
            r.control.globalRecentDeep = control.1.tables[0]!; r.control.evictedKeysRecentDeep = control.0.evictedQuery ?? []
        }
        do {
            let mid = r.midLayer...r.midLayer
            let (ruled, control) = try calibrated([CalibrationRule(band: .sink, layers: mid, stage: .query),
                                                   CalibrationRule(band: .recent, layers: mid, stage: .query)], rowStats)
            let m = ruled.1.means()
            r.evictedBothMid = ruled.0.evictions.calibrationQuery.map(Double.init)
            r.entropyBothMid = m.entropy.map(Double.init); r.maxBothMid = m.maxProb.map(Double.init)
            r.control.entropyBothMid = control.1.means().entropy.map(Double.init)
        }
    }

    public func run(_ cfg: ParallelCompConfig, chunks: [[Int]], q: [Int], observers: [AttentionObserver], generate: Bool = false) throws -> ParallelCompPipeline.Result {
        let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: cfg, format: format)
        pc.passMemo = passes
        let t0 = Date()
        defer {
            if logTiming {
                Log.info(String(format: "  essay run: %d tokens, %d observers, %.2f s", chunks.reduce(0) { $0 + $1.count }, observers.count, Date().timeIntervalSince(t0)))
            }
        }
        return try pc.run(try .init(chunkTokenIDs: chunks, questionIDs: q), observers: observers, generate: generate,
                          cancelled: { Signals.isInterrupted })
    }
}
