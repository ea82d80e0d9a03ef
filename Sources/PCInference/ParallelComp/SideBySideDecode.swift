import Foundation

/// The lab's points answer side by side: every point has its own cache (forks of one context, or
/// its own combined chunks), and each decode step runs the next token of every unfinished point
/// in one `decodeRows` pass, so the weights stream once per step instead of once per point.
/// Each point's tokens, logits and top-20 lists equal its own `decode` bit for bit
/// (`LabSharedPassTests`); only the decode wall time is shared (each point's `decode_s` is the
/// shared time over the number of points).
extension ParallelCompPipeline {
    /// Whether `decodeSideBySide` may serve these points: no per-step eviction or observer needs
    /// a step of its own.
    static func decodesSideBySide(_ points: [(pipeline: ParallelCompPipeline, state: RunState)]) -> Bool {
        points.allSatisfy { $0.state.decodeEviction == nil && $0.pipeline.model === points[0].pipeline.model }
    }

    /// Decodes every point's answer (its pipeline's sampling, stop tokens and length), steps in
    /// lock-step; points that cannot share steps decode one by one.
    static func decodeSideBySide(_ points: [(pipeline: ParallelCompPipeline, state: RunState)], generate: Bool,
                                 cancelled: () -> Bool) throws {
        guard generate, !points.isEmpty, decodesSideBySide(points) else {
            for p in points { try p.pipeline.decode(p.state, generate: generate, observers: [], progress: nil, cancelled: cancelled) }
            return
        }
        let t0 = Date(), model = points[0].pipeline.model, V = model.config.vocabSize
        var samplers = points.map { Sampler($0.pipeline.config.sampling) }
        var loops = points.map { p in
            DecodeLoop(position: p.state.queryPosition + p.state.m, maxTokens: p.pipeline.config.maxNewTokens,
                       stopTokens: p.pipeline.decodeStops, banStopsFirst: true)
        }
        /// Takes point i's next token from `logits`; returns what it must run next.
        func take(_ i: Int, _ logits: [Float]) -> (point: Int, token: Int, position: Int)? {
            let st = points[i].state
            return loops[i].take(logits, sampler: &samplers[i]) { st.answer.append($0); return true }.map { (i, $0.token, $0.position) }
        }
        if cancelled() { throw CancellationError() }
        var pending = points.indices.compactMap { take($0, points[$0].state.logits) }
        while !pending.isEmpty {
            if cancelled() { throw CancellationError() }
            let logits = try model.decodeRows(tokens: pending.map(\.token), positions: pending.map(\.position),
                                              caches: pending.map { points[$0.point].state.combined })
            if cancelled() { throw CancellationError() }
            pending = pending.enumerated().compactMap { j, p in
                let row = Array(logits[(j * V)..<((j + 1) * V)])
                points[p.point].state.decodeTop20.append(TopLogits(row, count: 20))
                return take(p.point, row)
            }
        }
        let share = Date().timeIntervalSince(t0) / Double(points.count)
        for p in points { p.state.timings["decode_s"] = share }
    }
}
