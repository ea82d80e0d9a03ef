import Foundation
import PCInference

/// One pass-key example under the eviction variants the retrieval claims compare.
public struct PasskeyRuns: Sendable {
    public struct Outcome: Sendable {
        public var nll: Double, needleMass: Double
        public init(nll: Double, needleMass: Double) { self.nll = nll; self.needleMass = needleMass }
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
    public init() {}
}

/// Runs the pass-key variants: one kept chunk (the paper's retrieval setting), chunks cut at
/// sentence ends, chunk-stage calibration (appendix C's per-chunk bands) with bands of ~2.5 %
/// of a chunk and lambda 0.1.
public struct PasskeyRunner {
    public let model: LlamaModel
    public let tok: Tokenizer
    public let settings: ClaimSettings

    public func run(_ ex: ClaimExample) throws -> PasskeyRuns {
        let L = model.config.layerCount
        let task = RetrievalTaskBuilder(tokenizer: tok).passkey(tokens: settings.passkeyTokens, depth: ex.passkeyDepth, seed: ex.passkeySeed)
        var base = ParallelCompConfig()
        base.keepChunks = 1
        base.maxNewTokens = 1   // the claims read the answer's teacher-forced NLL; generating it is time they do not use
        base.chunkTokens = settings.passkeyChunk; base.splitBy = .sentences
        base.bandWidth = max(1, Int((0.025 * Double(settings.passkeyChunk)).rounded()))
        func outcome(_ cfg: ParallelCompConfig) throws -> PasskeyRuns.Outcome {
            let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: cfg, format: PromptFormat.forTokenizer(tok))
            let o = try RetrievalRunner.run(task, pipeline: pc, measure: true, cancelled: { Signals.isInterrupted })
            return .init(nll: o.answerNLL ?? .nan, needleMass: o.needleMass ?? .nan)
        }
        func evicting(_ band: CalibrationRule.Band, _ layers: ClosedRange<Int>) -> ParallelCompConfig {
            var c = base; c.calibration = [CalibrationRule(band: band, layers: layers, stage: .chunk)]; return c
        }
        var r = PasskeyRuns()
        r.base = try outcome(base)
        r.sinkEarly = try outcome(evicting(.sink, 0...(L / 4 - 1)))
        r.sinkLate = try outcome(evicting(.sink, (L / 2)...(L - 1)))
        r.allByQuarter = try (0..<4).map { q in try outcome(evicting(.all, (q * L / 4)...((q + 1) * L / 4 - 1))) }
        var nb = base; nb.questionBOS = false
        r.noQuestionBOS = try outcome(nb)
        var rc = base; rc.calibration = try CalibrationRule.parseList("paper", layerCount: L)
        r.recipe = try outcome(rc)
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

    /// The C chunks are the C x width tokens just before a point; the "question" is the next 16
    /// tokens (raw text, as in a perplexity test) and the scored answer the tokens after them.
    /// The default keep-3 chunk selection applies, so C > 3 measures ParallelComp with eviction.
    public func run(_ ex: ClaimExample) throws -> ContinuationRuns {
        let w = settings.continuationWidth, cmax = settings.continuationCounts.max() ?? 1
        let split = ex.offset + cmax * w
        let question = Array(doc[split..<(split + 16)])
        let answer = Array(doc[(split + 16)..<(split + 16 + settings.continuationTokens)])
        let prefix = PromptFormat.forTokenizer(tok).prefixIDs(tok)
        var out = ContinuationRuns()
        for C in settings.continuationCounts {
            let chunks = (0..<C).map { c in prefix + Array(doc[(split - (C - c) * w)..<(split - (C - c - 1) * w)]) }
            var cfg = ParallelCompConfig(); cfg.maxNewTokens = 1
            let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: cfg, format: PromptFormat.forTokenizer(tok))
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
    public init(essay: EssayRuns, passkey: PasskeyRuns, continuation: ContinuationRuns, fewShot: FewShotRuns = .init(), ranking: ChunkRankingRuns = .init()) {
        self.essay = essay; self.passkey = passkey; self.continuation = continuation; self.fewShot = fewShot; self.ranking = ranking
    }
}
