import Foundation

/// One (policy, budget) point of the eviction lab on one example: the answer and its score, and
/// the accounting of what the policy kept (docs/eviction-lab.md).
public struct LabPoint: Codable, Sendable {
    /// "off" (nothing evicted) or the lab kind's name.
    public var policy: String
    /// Kept fraction of the candidates (nil for off).
    public var ratio: Double?
    public var answer: String
    /// RULER's score in [0, 1] (string_match_all) or 1/0 for our own tasks.
    public var score: Double
    public var correct: Bool
    public var answerNLL: Double?
    public var kvBytes: Double?
    /// Kept fraction of the sink, middle and recent bands' keys over layers and heads, and of
    /// every layer's candidates (nil without a lab policy).
    public var keptBand: [String: Double]?
    public var keptLayer: [Double]?
    /// Fraction of (layer, query head) pairs that still see every (any) key of the evidence, the
    /// needles carrying the answer (nil for a task without one).
    public var evidenceHeldAll: Double?
    public var evidenceHeldAny: Double?
    /// The question rows' attention on the evidence keys at this point, per row, layer and head.
    public var evidenceMass: Double?
    /// kvpress setting: the share of the attention the question puts on the evidence without
    /// eviction (the off point) that falls on keys this point evicted.
    public var evidenceMassLost: Double?
    /// Wall time of the example divided over its points (one prefill serves them all in the
    /// kvpress setting).
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case policy, ratio, answer, score, correct, answerNLL = "answer_nll", kvBytes = "kv_bytes", keptBand = "kept_band"
        case keptLayer = "kept_layer", evidenceHeldAll = "evidence_held_all", evidenceHeldAny = "evidence_held_any"
        case evidenceMass = "evidence_mass", evidenceMassLost = "evidence_mass_lost", seconds
    }
}

/// Runs one example through `off` and a list of lab points in either setting.
public enum LabRunner {
    /// A named point: "off" has a lab that evicts nothing (kept ratio 1, no protected keys), so
    /// it takes the same path as the policies (and, with --oracle-chunk, keeps the evidence chunk).
    public struct Point: Sendable {
        public var name: String
        public var lab: EvictionLabSettings
        public init(name: String, lab: EvictionLabSettings) { self.name = name; self.lab = lab }
        public static func off(_ setting: EvictionLabSettings.Setting, oracleChunk: Bool = false) -> Point {
            Point(name: "off", lab: EvictionLabSettings(kind: .streaming, ratio: 1, sink: 0, setting: setting, oracleChunk: oracleChunk))
        }
    }

    /// Kept fractions per band (sink, middle, recent) and per layer from a band log, over every
    /// chunk pass it recorded.
    public static func keptFractions(_ log: PolicyBandLog) -> (bands: [String: Double], layers: [Double]) {
        let B = KeyBand.allCases.count
        var kept = [String: Double](), total = [String: Double]()
        var layerKept = [Double](repeating: 0, count: log.layers), layerTotal = layerKept
        for ch in 0..<log.chunks {
            for b in KeyBand.chunkBands {
                let n = log.keys[ch * B + b.index]
                guard n > 0 else { continue }
                for l in 0..<log.layers {
                    for h in 0..<log.heads {
                        let k = Double(log.kept[log.index(chunk: ch, band: b, layer: l, head: h)])
                        kept[b.rawValue, default: 0] += k; layerKept[l] += k
                    }
                    total[b.rawValue, default: 0] += Double(n * log.heads); layerTotal[l] += Double(n * log.heads)
                }
            }
        }
        var bands: [String: Double] = [:]
        for (b, t) in total where t > 0 { bands[b] = kept[b, default: 0] / t }
        return (bands, zip(layerKept, layerTotal).map { $1 > 0 ? $0 / $1 : .nan })
    }

    /// Fractions of (layer, head) that see every / any evidence key; `sees(chunk, layer, head)`
    /// gives the chunk-local keys that (layer, head) still holds of a chunk (nil: none).
    static func held(_ evidence: [String: [Int]], layers L: Int, heads H: Int, sees: (String, Int, Int) -> Set<Int>?) -> (all: Double, any: Double)? {
        guard evidence.values.contains(where: { !$0.isEmpty }) else { return nil }
        var all = 0, any = 0
        for l in 0..<L {
            for h in 0..<H {
                var nAll = true, nAny = false
                for (id, keys) in evidence {
                    let s = sees(id, l, h)
                    for k in keys { if s?.contains(k) == true { nAny = true } else { nAll = false } }
                }
                all += nAll ? 1 : 0; any += nAny ? 1 : 0
            }
        }
        return (Double(all) / Double(L * H), Double(any) / Double(L * H))
    }

    /// The kvpress setting: the one causal context prefilled once, each point's compression,
    /// question and answer over it (`runLabPoints`). `points[0]` should be `off`: the evidence
    /// mass lost is measured against it.
    public static func kvpress(_ ex: RetrievalExample, pipeline pc: ParallelCompPipeline, points: [Point],
                               cancelled: () -> Bool = { false }) throws -> [LabPoint] {
        let t0 = Date()
        let prep = try pc.prepare(context: ex.context, question: ex.question)
        guard prep.chunks.count == 1 else {
            throw SettingError.kvpressNeedsOneChunk(chunks: prep.chunks.count)
        }
        let c = pc.model.config, L = c.layerCount, H = c.headCount, m = prep.questionIDs.count
        let id = String(prep.chunks[0].id)
        let evidence = RetrievalRunner.evidenceKeys(ex, prep: prep, pipeline: pc)[id] ?? []
        // Each point's question attention on the evidence keys, [l * H + h][evidence key], read
        // out of its observer as soon as the next point starts (one observer alive at a time).
        var onEvidence: [[[Float]]] = [], live: KeyScoreObserver?
        func drain() {
            guard let o = live else { return }
            onEvidence.append((0..<(L * H)).map { i in let s = o.scores(layer: i / H, head: i % H); return evidence.map { s[s.startIndex + $0] } })
            live = nil
        }
        let results = try pc.runLabPoints(prep, labs: points.map(\.lab), scoreAnswer: RetrievalRunner.answerIDs(ex, pc.tokenizer), questionObservers: { _ in
            drain()
            let o = KeyScoreObserver(stage: .global, lastRows: m, layers: L, heads: H)
            live = o
            return [o]
        }, cancelled: cancelled)
        drain()
        let per = Date().timeIntervalSince(t0) / Double(max(1, points.count))
        let offTotal = onEvidence.first.map { $0.reduce(0) { $0 + $1.reduce(0) { $0 + Double($1) } } } ?? 0
        return zip(points, results).enumerated().map { i, pr in
            let (p, r) = pr
            var out = LabPoint(policy: p.name == "off" ? "off" : p.lab.kind.rawValue, ratio: p.name == "off" ? nil : p.lab.ratio, answer: r.answer, score: ex.score(r.answer),
                               correct: ex.isCorrect(r.answer), answerNLL: r.answerNLL,
                               kvBytes: Double(r.storedKVPairs * c.headDim * 2 * MemoryLayout<Float>.size), seconds: per)
            if let b = r.policyBands { let f = keptFractions(b); out.keptBand = f.bands; out.keptLayer = f.layers }
            let kept = r.policyKept[id]
            let sets = kept.map { k in k.map { $0.map { Set($0) } } }
            if let h = held([id: evidence], layers: L, heads: H, sees: { _, l, hd in sets.map { $0[l][hd] } }) {
                out.evidenceHeldAll = h.all; out.evidenceHeldAny = h.any
                let mine = onEvidence[i]
                out.evidenceMass = mine.reduce(0) { $0 + $1.reduce(0) { $0 + Double($1) } } / Double(max(1, m) * L * H)
                if offTotal > 0, let sets {
                    var lost = 0.0
                    for l in 0..<L { for hd in 0..<H { for (j, k) in evidence.enumerated() where !sets[l][hd].contains(k) { lost += Double(onEvidence[0][l * H + hd][j]) } } }
                    out.evidenceMassLost = lost / offTotal
                }
            }
            return out
        }
    }

    /// The ParallelComp setting: every point evicts in every chunk pass (question appended). One
    /// pass per chunk serves every point (`runLabPoints`), each point then combining its own
    /// masked copies of the kept chunks; points that change the chunk pass itself (see
    /// `ParallelCompPipeline.sharesChunkPasses`) run the pipeline one by one instead.
    public static func parallelComp(_ ex: RetrievalExample, model: LlamaModel, tokenizer tok: Tokenizer, config: ParallelCompConfig,
                                    format: PromptFormat, points: [Point], memo: ChunkScoreMemo?,
                                    cancelled: @escaping () -> Bool = { false }) throws -> [LabPoint] {
        let c = model.config, labs = points.map(\.lab)
        guard ParallelCompPipeline.sharesChunkPasses(config, labs: labs) else {
            return try points.map { p in
                var cfg = config
                cfg.evictionLab = p.lab
                let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: cfg, format: format)
                pc.memo = memo
                return labPoint(p, ex, try RetrievalRunner.run(ex, pipeline: pc, measure: true, cancelled: cancelled), model: c)
            }
        }
        let t0 = Date()
        let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: format)
        pc.memo = memo
        let input = try RetrievalRunner.prepare(ex, pipeline: pc, keepNeedleChunk: labs[0].oracleChunk)
        let m = input.prep.questionIDs.count
        // Each point's question attention, for its needle mass (a fresh observer per point).
        var mass: [KeyScoreObserver] = []
        let results = try pc.runLabPoints(input.prep, labs: labs, scoreAnswer: RetrievalRunner.answerIDs(ex, tok), questionObservers: { _ in
            let o = KeyScoreObserver(stage: .global, lastRows: m, layers: c.layerCount, heads: c.headCount)
            mass.append(o)
            return [o]
        }, cancelled: cancelled)
        let per = Date().timeIntervalSince(t0) / Double(max(1, points.count))
        return points.indices.map { i in
            var o = RetrievalRunner.outcome(ex, input, result: results[i], measure: true, mass: mass[i], pipeline: pc)
            o.seconds = per
            return labPoint(points[i], ex, o, model: c)
        }
    }

    /// A point's row from its run's outcome: the answer and its score, and what the policy kept.
    static func labPoint(_ p: Point, _ ex: RetrievalExample, _ o: RetrievalOutcome, model c: ModelConfig) -> LabPoint {
        var out = LabPoint(policy: p.name == "off" ? "off" : p.lab.kind.rawValue, ratio: p.name == "off" ? nil : p.lab.ratio, answer: o.answer, score: ex.score(o.answer),
                           correct: ex.isCorrect(o.answer), answerNLL: o.answerNLL, kvBytes: o.kvBytes, seconds: o.seconds)
        if let b = o.policyBands { let f = keptFractions(b); out.keptBand = f.bands; out.keptLayer = f.layers }
        let keptChunks = Set(o.keptChunks.map(String.init))
        let sets = o.policyKept.mapValues { k in k.map { $0.map { Set($0) } } }
        if let h = held(o.evidenceKeys, layers: c.layerCount, heads: c.headCount, sees: { id, l, hd in
            guard keptChunks.contains(id) else { return nil }
            return sets[id].map { $0[l][hd] } ?? Set(o.evidenceKeys[id] ?? [])
        }) {
            out.evidenceHeldAll = h.all; out.evidenceHeldAny = h.any
        }
        out.evidenceMass = o.needleMass
        return out
    }
}
