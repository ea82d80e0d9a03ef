import Foundation
import PCInference

/// One few-shot classification example under the eviction variants T14 and T16 compare.
public struct FewShotRuns: Sendable {
    public struct Outcome: Sendable {
        /// Teacher-forced NLL of the right label (nats per token).
        public var nll: Double
        /// 1 when the right label's first token has the highest logit of all labels' first tokens.
        public var correct: Double
        /// Keys the run's calibration evicted, over all chunks, layers and heads.
        public var evicted: Double = 0
        /// ... per (evicted layer, head) and chunk pass: the manipulation check.
        public var evictedPerHead: Double = .nan
        /// ... per pass, as counts: what the run's matched control replays (not stored).
        public var counts: CalibrationCounts = [:]
        public init(nll: Double, correct: Double, evicted: Double = 0, evictedPerHead: Double = .nan) {
            self.nll = nll; self.correct = correct; self.evicted = evicted; self.evictedPerHead = evictedPerHead
        }
    }
    public var base: Outcome?
    /// T14: the recent band evicted (chunk stage, lambda 0.1) in one depth quarter each.
    public var recentByQuarter: [Outcome] = []
    /// T16: the paper's layer-banded recipe (`--calibration paper`).
    public var recipe: Outcome?
    /// Protocol v3's matched random controls of the runs above (empty/nil before v3).
    public var recentByQuarterControl: [Outcome] = []
    public var recipeControl: Outcome?
    public var labels = 0
    public init() {}
}

/// Runs the few-shot task (`FewShotTask`) of an example: the demonstrations in the example's
/// chunk count, every chunk kept (classification needs every label's demonstrations), bands of
/// ~2.5 % of a chunk as in the pass-key runs.
public struct FewShotRunner {
    public let model: LlamaModel
    public let tok: Tokenizer
    public let settings: ClaimSettings

    public func run(_ ex: ClaimExample) throws -> FewShotRuns {
        let L = model.config.layerCount, C = ex.chunks
        let task = FewShotTask.make(rounds: settings.fewShotRoundsPerChunk * C, seed: ex.passkeySeed)
        let format = ClaimPrompt.format(tok, settings.promptLayout)
        let prefix = format.leadIDs(tok)
        let content = task.chunks(C).map { tok.encode($0, parseSpecial: false, addBOS: false) }
        let q = task.questionIDs(tok, layout: settings.promptLayout)
        let answer = FewShotTask.labelIDs(task.answer, tok)
        let firsts = task.labels.map { FewShotTask.labelIDs($0, tok)[0] }
        guard Set(firsts).count == firsts.count else { throw AnalysisError("few-shot labels \(task.labels) share a first token with this tokenizer") }
        var base = ParallelCompConfig()
        base.keepChunks = C; base.maxNewTokens = 1
        base.bandWidth = max(1, Int((0.025 * Double(content.map(\.count).min() ?? 0)).rounded()))
        func outcome(_ cfg: ParallelCompConfig) throws -> FewShotRuns.Outcome {
            let evictedLayers = Set(cfg.calibration.flatMap { Array($0.layers) }).count
            let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: cfg, format: format)
            let r = try pc.run(try .init(chunkTokenIDs: content.map { prefix + $0 }, questionIDs: q), generate: false, scoreAnswer: answer,
                               cancelled: { Signals.isInterrupted })
            var out = FewShotRuns.Outcome(nll: r.answerNLL ?? .nan, correct: Self.correct(top20: r.top20IDs, labelFirstTokens: firsts, right: task.query.type),
                                          evicted: Double(r.evictions.calibrationChunk.reduce(0, +)),
                                          evictedPerHead: evictedLayers == 0 ? .nan
                                            : Double(r.evictions.calibrationChunk.reduce(0, +)) / Double(evictedLayers * model.config.headCount * C))
            out.counts = r.calibrationCounts
            return out
        }
        func withControl(_ c: ParallelCompConfig) throws -> (rule: FewShotRuns.Outcome, control: FewShotRuns.Outcome) {
            try PasskeyRunner.withControl(c, seed: ex.passkeySeed, counts: \.counts, outcome)
        }
        var r = FewShotRuns()
        r.labels = firsts.count
        r.base = try outcome(base)
        func recent(_ qi: Int) -> ParallelCompConfig {
            var c = base; c.calibration = [CalibrationRule(band: .recent, layers: (qi * L / 4)...((qi + 1) * L / 4 - 1), stage: .chunk)]; return c
        }
        let byQuarter = try (0..<4).map { try withControl(recent($0)) }
        r.recentByQuarter = byQuarter.map(\.rule); r.recentByQuarterControl = byQuarter.map(\.control)
        var rc = base; rc.calibration = try CalibrationRule.parseList("paper", layerCount: L)
        (r.recipe, r.recipeControl) = try withControl(rc)
        return r
    }

    /// 1 when the right label's first token comes before every other label's among the 20 highest
    /// logits (a label outside them ranks below all inside); 0 otherwise, also when none is there.
    public static func correct(top20: [Int], labelFirstTokens firsts: [Int], right: Int) -> Double {
        guard let best = top20.first(where: { firsts.contains($0) }) else { return 0 }
        return best == firsts[right] ? 1 : 0
    }
}
