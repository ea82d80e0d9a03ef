import Foundation
import PCInference

/// One pass-key example under the eviction variants the retrieval claims compare.
public struct PasskeyRuns: Sendable {
    public struct Outcome: Sendable {
        public var nll: Double, needleMass: Double
        /// Keys calibration evicted per (layer, head), averaged over the chunk passes.
        public var evicted: [Double] = []
        /// ... per pass, as counts: what the run's matched control replays (not stored).
        public var counts: CalibrationCounts = [:]
        public var correct = false
        public init(nll: Double, needleMass: Double, evicted: [Double] = [], correct: Bool = false) {
            self.nll = nll; self.needleMass = needleMass; self.evicted = evicted; self.correct = correct
        }
    }
    public var base: Outcome?
    /// T13: sink-band calibration in the first quarter, and in the second half of the layers.
    public var sinkEarly: Outcome?, sinkLate: Outcome?
    /// T15: every key above lambda evicted, one run per depth quarter.
    public var allByQuarter: [Outcome] = []
    /// T20: the question without its BOS (`--no-question-bos`).
    public var noQuestionBOS: Outcome?
    /// T16: the paper's layer-banded recipe (`--calibration paper`).
    public var recipe: Outcome?
    /// Protocol v3's matched controls of the eviction runs above: as many keys per head and
    /// pass drawn at random (`calibrationControl = .random`); nil/empty before v3.
    public var sinkEarlyControl: Outcome?, sinkLateControl: Outcome?, recipeControl: Outcome?
    public var allByQuarterControl: [Outcome] = []
    public var layers = 0, heads = 0
    public init() {}

    /// Mean keys evicted per (layer, head) and chunk pass over the layers of the given depth
    /// quarters; nil when the run recorded no evictions (v1 rows).
    public func evictedPerHead(_ o: Outcome, quarters: ClosedRange<Int>) -> Double? {
        guard heads > 0, o.evicted.count == layers * heads else { return nil }
        let ls = (quarters.lowerBound * layers / 4)..<((quarters.upperBound + 1) * layers / 4)
        return ClaimMath.mean(Array(o.evicted[(ls.lowerBound * heads)..<(ls.upperBound * heads)]))
    }
}

/// Runs the pass-key variants: one kept chunk (the paper's retrieval setting), chunks cut at
/// sentence ends, chunk-stage calibration (appendix C's per-chunk bands) with bands of ~2.5 %
/// of a chunk and lambda 0.1. From protocol v2 every example has its own haystack (essay text
/// from its own offset) and placement; v1 examples (no haystack) use the fixed noise filler.
public struct PasskeyRunner {
    public let model: LlamaModel
    public let tok: Tokenizer
    public let settings: ClaimSettings
    public var doc: [Int] = []

    public func task(_ ex: ClaimExample) -> RetrievalExample {
        let b = RetrievalTaskBuilder(tokenizer: tok)
        guard let h = ex.passkeyHaystack, !doc.isEmpty else { return b.passkey(tokens: settings.passkeyTokens, depth: ex.passkeyDepth, seed: ex.passkeySeed) }
        let text = tok.decode(Array(doc[h..<min(doc.count, h + settings.passkeyTokens + 64)]), skipSpecial: true)
        return b.passkeyInEssays(haystack: text, tokens: settings.passkeyTokens, depth: ex.passkeyDepth, seed: ex.passkeySeed)
    }

    /// A run's matched control (protocol v3): the same rules, as many keys per head drawn at
    /// random, seeded per example; from v5 exactly the rule run's counts per head, pass and layer
    /// (`replaying`), not the rule's choice inside the control's own pass.
    public static func controlled(_ c: ParallelCompConfig, seed: UInt64, replaying counts: CalibrationCounts) -> ParallelCompConfig {
        var c = c; c.calibrationControl = .random; c.calibrationControlSeed = seed ^ 0xC0_7701; c.calibrationControlCounts = counts; return c
    }
    /// A rule's run and then its matched control, which replays the rule run's counts (`counts`
    /// reads them from whatever `run` returns).
    public static func withControl<O>(_ c: ParallelCompConfig, seed: UInt64, counts: (O) -> CalibrationCounts,
                                      _ run: (ParallelCompConfig) throws -> O) rethrows -> (rule: O, control: O) {
        let rule = try run(c)
        return (rule, try run(controlled(c, seed: seed, replaying: counts(rule))))
    }

    /// The paper's lambda per chunk: 0.1 on its ~3,600-token chunks.
    public static let paperChunk = 3600.0

    /// `scaledLambda`: only T13's and T15's eviction runs, with lambda 0.1 x chunk / 3,600, and
    /// `base` as their baseline (the sensitivity rows).
    public func run(_ ex: ClaimExample, scaledLambda: Bool = false, base baseline: PasskeyRuns.Outcome? = nil) throws -> PasskeyRuns {
        let L = model.config.layerCount
        let task = self.task(ex)
        var base = ParallelCompConfig()
        base.keepChunks = 1
        base.maxNewTokens = 1   // the claims read the answer's teacher-forced NLL; generating it is time they do not use
        base.chunkTokens = settings.passkeyChunk; base.splitBy = .sentences
        base.bandWidth = max(1, Int((0.025 * Double(settings.passkeyChunk)).rounded()))
        func outcome(_ cfg: ParallelCompConfig) throws -> PasskeyRuns.Outcome {
            let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: cfg, format: ClaimPrompt.format(tok, settings.promptLayout))
            // v3: the needle's chunk is kept in every pass-key run, so an eviction's effect on
            // retrieval is not a change of the kept chunk (T17 tests the selection itself).
            let o = try RetrievalRunner.run(task, pipeline: pc, measure: true, keepNeedleChunk: true, cancelled: { Signals.isInterrupted })
            // Chunk passes that ran (the others were not prefilled: the needle's chunk is kept).
            let passes = Double(max(1, o.chunkCount - o.chunksUnscored))
            var out = PasskeyRuns.Outcome(nll: o.answerNLL ?? .nan, needleMass: o.needleMass ?? .nan,
                                          evicted: (o.evictions?.calibrationChunk ?? []).map { Double($0) / passes }, correct: o.correct)
            out.counts = o.calibrationCounts
            return out
        }
        func withControl(_ c: ParallelCompConfig) throws -> (rule: PasskeyRuns.Outcome, control: PasskeyRuns.Outcome) {
            try Self.withControl(c, seed: ex.passkeySeed, counts: \.counts, outcome)
        }
        func evicting(_ band: CalibrationRule.Band, _ layers: ClosedRange<Int>) -> ParallelCompConfig {
            var c = base; c.calibration = [CalibrationRule(band: band, layers: layers, stage: .chunk)]; return c
        }
        var r = PasskeyRuns()
        r.layers = L; r.heads = model.config.headCount
        // The eviction runs and their matched random controls.
        func evictionRuns() throws {
            (r.sinkEarly, r.sinkEarlyControl) = try withControl(evicting(.sink, 0...(L / 4 - 1)))
            (r.sinkLate, r.sinkLateControl) = try withControl(evicting(.sink, (L / 2)...(L - 1)))
            let all = try (0..<4).map { q in try withControl(evicting(.all, (q * L / 4)...((q + 1) * L / 4 - 1))) }
            r.allByQuarter = all.map(\.rule); r.allByQuarterControl = all.map(\.control)
        }
        if scaledLambda {
            base.lambda = Float(0.1 * Double(settings.passkeyChunk) / Self.paperChunk)
            r.base = baseline
            try evictionRuns()
            return r
        }
        r.base = try outcome(base)
        try evictionRuns()
        var nb = base; nb.questionBOS = false
        r.noQuestionBOS = try outcome(nb)
        var rc = base; rc.calibration = try CalibrationRule.parseList("paper", layerCount: L)
        (r.recipe, r.recipeControl) = try withControl(rc)
        return r
    }
}

/// T18: the NLL of the text that follows a document, given the document in 1, 2, ... chunks.
public struct ContinuationRuns: Sendable {
    /// chunk count -> mean NLL per scored token
    public var nll: [Int: Double] = [:]
    public init() {}
}

public struct ContinuationRunner {
    public let model: LlamaModel
    public let tok: Tokenizer
    public let settings: ClaimSettings
    public let doc: [Int]
    /// Chunk passes shared by the runs (the counts share their last chunks), or nil.
    public var passes: ChunkPassMemo? = nil
    public init(model: LlamaModel, tok: Tokenizer, settings: ClaimSettings, doc: [Int], passes: ChunkPassMemo? = nil) {
        self.model = model; self.tok = tok; self.settings = settings; self.doc = doc; self.passes = passes
    }

    /// The C chunks are the C x width tokens just before a point; the "question" is the next 16
    /// tokens (raw text, as in a perplexity test) and the scored answer the tokens after them.
    /// The default keep-3 chunk selection applies, so C > 3 measures ParallelComp with eviction.
    public func run(_ ex: ClaimExample) throws -> ContinuationRuns {
        let w = settings.continuationWidth, cmax = settings.continuationCounts.max() ?? 1
        let split = ex.offset + cmax * w
        let question = Array(doc[split..<(split + 16)])
        let answer = Array(doc[(split + 16)..<(split + 16 + settings.continuationTokens)])
        let format = ClaimPrompt.format(tok, settings.promptLayout), prefix = format.leadIDs(tok)
        var out = ContinuationRuns()
        for C in settings.continuationCounts {
            let chunks = (0..<C).map { c in prefix + Array(doc[(split - (C - c) * w)..<(split - (C - c - 1) * w)]) }
            var cfg = ParallelCompConfig(); cfg.maxNewTokens = 1
            let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: cfg, format: format)
            pc.passMemo = passes
            let r = try pc.run(try .init(chunkTokenIDs: chunks, questionIDs: question), generate: false, scoreAnswer: answer,
                               cancelled: { Signals.isInterrupted })
            out.nll[C] = r.answerNLL ?? .nan
        }
        return out
    }
}

/// All runs of one example.
public struct ExampleRuns: Sendable {
    public var essay: EssayRuns
    public var passkey: PasskeyRuns
    public var continuation: ContinuationRuns
    public var fewShot: FewShotRuns
    public var ranking: ChunkRankingRuns
    /// The pass key's eviction runs (T13, T15) with lambda scaled to the chunk; nil in v1.
    public var passkeyScaled: PasskeyRuns?
    public init(essay: EssayRuns, passkey: PasskeyRuns, continuation: ContinuationRuns, fewShot: FewShotRuns = .init(), ranking: ChunkRankingRuns = .init(),
                passkeyScaled: PasskeyRuns? = nil) {
        self.essay = essay; self.passkey = passkey; self.continuation = continuation; self.fewShot = fewShot; self.ranking = ranking
        self.passkeyScaled = passkeyScaled
    }
}
