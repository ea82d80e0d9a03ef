import Foundation

/// Every eviction-lab point of the ParallelComp setting for the price of one pass per chunk.
/// A lab policy evicts from a chunk's stored cache only after the chunk pass has run and its NLL
/// is taken, so the passes, the scores and the chunk selection are the same for every point; only
/// what each point keeps of the stored caches differs. Each pass is therefore observed for every
/// signal any point reads, every point evicts from it in turn (its masks, counts and band log set
/// aside), and then each point combines its masked copies of the kept chunks and reads the
/// question as `run` with its lab alone would; the points' answers decode side by side
/// (`decodeSideBySide`; `LabSharedPassTests` checks bit for bit).
extension ParallelCompPipeline {
    /// What one point's policy left of one chunk pass: the cache's masks, the keys evicted per
    /// (layer, head) and the kept keys.
    struct PointEviction {
        let masks: [[[UInt8]?]]
        let compressed: [Int]
        let labKept: [[[Int]]]
    }

    /// Whether `labs` can share this configuration's chunk passes: all in the ParallelComp setting
    /// with one oracle-chunk choice and no decode-time eviction, and nothing that changes the pass
    /// itself (SnapKV compression, chunk-stage calibration, batched chunks). Otherwise each point
    /// needs a pipeline run of its own.
    public static func sharesChunkPasses(_ config: ParallelCompConfig, labs: [EvictionLabSettings]) -> Bool {
        guard let first = labs.first else { return false }
        return labs.allSatisfy { $0.setting == .parallelComp && !$0.decodeEviction && $0.oracleChunk == first.oracleChunk }
            && config.compression == nil && config.calibrationRules(at: .chunk).isEmpty && config.batchChunks <= 1
    }

    /// Each point's eviction of one chunk pass's cache, from the shared signals; the cache is left
    /// unmasked for the next point and for the held block.
    func evictForPoints(_ fan: [(lab: EvictionLabSettings, state: RunState)], cache: KVCache, chunkID: Int, cLen: Int, m: Int,
                        first: Int, signals: ContextSignals) -> [PointEviction] {
        let n = model.config.layerCount * model.config.headCount
        defer { cache.clearMasks() }
        return fan.map { p in
            cache.clearMasks()
            var compressed = Array(repeating: 0, count: n)
            let kept = labEvict(p.lab, cache: cache, chunkID: chunkID, cLen: cLen, m: m, first: first, compressed: &compressed,
                                scores: signals.score(for: p.lab), moments: signals.moments(for: p.lab), mass: signals.mass, p.state)
            return PointEviction(masks: cache.keepMasks, compressed: compressed, labKept: kept)
        }
    }

    /// `runLabPoints` in the ParallelComp setting: the chunk passes once (this pipeline's memo and
    /// the forced chunks decide which run, as in `run`), then per point the combine, the question,
    /// the expected answer's score and decoding. The pipeline's own lab is ignored.
    func runChunkLabPoints(_ prep: Prepared, labs: [EvictionLabSettings], generate: Bool, scoreAnswer: [Int]?,
                           questionObservers: ((Int) -> [AttentionObserver])?, cancelled: () -> Bool) throws -> [Result] {
        guard Self.sharesChunkPasses(config, labs: labs) else { throw SettingError.sharedChunkPassesUnsupported }
        var base = config
        base.evictionLab = nil
        let shared = ParallelCompPipeline(model: model, tokenizer: tokenizer, config: base, format: format)
        shared.memo = memo
        try shared.validate(prep)
        let pipelines = try labs.map { lab -> ParallelCompPipeline in
            try lab.check()
            var c = base
            c.evictionLab = lab
            let pc = ParallelCompPipeline(model: model, tokenizer: tokenizer, config: c, format: format)
            try pc.validate(prep)
            return pc
        }
        let st = RunState(pipeline: shared, prep: prep)
        st.fanout = zip(labs, pipelines).map { ($0, RunState(pipeline: $1, prep: prep)) }
        try shared.scoreChunks(st, observers: [], progress: nil, cancelled: cancelled)
        var ready: [(pipeline: ParallelCompPipeline, state: RunState)] = []
        for (i, pc) in pipelines.enumerated() {
            if cancelled() { throw CancellationError() }
            let pst = st.fanout![i].state
            pst.chunks = st.chunks
            pst.timings = st.timings
            pst.held = st.held.map { h in
                let e = h.points![i]
                return HeldChunk(id: h.id, score: h.score, block: h.block, masks: e.masks, compressed: e.compressed, snapKept: nil, labKept: e.labKept)
            }
            pc.combineKept(pst)
            pst.storedKVPairs = pst.combined.storedPairs(before: pst.combined.count)
            try pc.prefillQuestion(pst, observers: questionObservers?(i) ?? [], progress: nil)
            if let a = scoreAnswer, !a.isEmpty { try pc.scoreExpectedAnswer(a, pst) }
            ready.append((pc, pst))
        }
        try Self.decodeSideBySide(ready, generate: generate, cancelled: cancelled)
        return ready.map { p in
            defer { p.state.combined = model.makeCache() }   // the point's question and answer keys are no longer needed
            return p.state.result(tokenizer)
        }
    }
}
