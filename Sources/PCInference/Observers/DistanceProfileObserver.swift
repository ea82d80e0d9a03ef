/// Mean attention as a function of distance Δ = row − key inside a chunk (context rows only),
/// excluding the chunk's first `skipSink` keys: the decay the paper's Theorem A.1 assumes.
/// Output [layer, head, Δ] for Δ in 0 ..< maxDistance (NaN where no row reached Δ).
public final class DistanceProfileObserver: StageObserver, @unchecked Sendable {
    public let stage: AttentionStage
    public let maxDistance: Int, skipSink: Int
    public let layers: Int, heads: Int
    let sums: WorkerAccumulator<Double>    // [layer, head, Δ]
    let counts: WorkerAccumulator<Double>  // [layer, head, Δ]

    public init(stage: AttentionStage = .local, maxDistance: Int, skipSink: Int, layers: Int, heads: Int) {
        self.stage = stage; self.maxDistance = max(1, maxDistance); self.skipSink = skipSink
        self.layers = layers; self.heads = heads
        sums = WorkerAccumulator(Shape(layers, heads, self.maxDistance))
        counts = WorkerAccumulator(Shape(layers, heads, self.maxDistance))
    }

    public func start(scope: ObservationScope, workers: Int) {
        sums.begin(workers: workers); counts.begin(workers: workers)
    }
    public func wants(isQuery: Bool) -> Bool { !isQuery }
    public func end() { sums.end(); counts.end() }

    public func observe(_ b: AttentionBlock) {
        let acc = sums.slot(b.worker), cnt = counts.slot(b.worker)
        let o = sums.shape(b.layer, b.head, 0)
        for i in 0..<b.rowCount {
            let key = b.firstRow + i
            guard let j = b.scope.spanIndex(ofKey: key) else { continue }
            let start = b.scope.chunkSpans[j].lowerBound + skipSink
            let p = b.row(i)
            var k = key, d = 0
            while k >= start && d < maxDistance {
                // Keys before the block's first column lie outside a sliding window: probability 0.
                acc[o + d] += k >= b.keyStart ? Double(p[k - b.keyStart]) : 0; cnt[o + d] += 1
                k -= 1; d += 1
            }
        }
    }

    public func profile() -> [Float] {
        (0..<(layers * heads * maxDistance)).map { counts.total[$0] > 0 ? Float(sums.total[$0] / counts.total[$0]) : .nan }
    }
}

/// How concentrated each query row's attention over its chunk is: the fraction of the chunk's
/// keys whose probability exceeds c / w (w = chunk length) for each c, and the mass held by the
/// top 1 % of keys. Means over query rows, [layer, head] per statistic.
public final class ConcentrationObserver: StageObserver, @unchecked Sendable {
    public let stage: AttentionStage
    public let multiples: [Double]
    public let layers: Int, heads: Int
    let sums: WorkerAccumulator<Double>   // [layer, head, (multiples..., top1%, rows)]

    public init(stage: AttentionStage = .local, multiples: [Double] = [1, 4], layers: Int, heads: Int) {
        self.stage = stage; self.multiples = multiples; self.layers = layers; self.heads = heads
        sums = WorkerAccumulator(Shape(layers, heads, multiples.count + 2))
    }

    public func start(scope: ObservationScope, workers: Int) {
        sums.begin(workers: workers)
    }
    public func wants(isQuery: Bool) -> Bool { isQuery }
    public func end() { sums.end() }

    public func observe(_ b: AttentionBlock) {
        let acc = sums.slot(b.worker)
        let o = sums.shape(b.layer, b.head, 0)
        for i in 0..<b.rowCount {
            for span in b.scope.chunkSpans {
                let w = span.count
                guard w > 0 else { continue }
                // Only the keys the row scored: on a sliding-window layer the block starts at the
                // window (keys before keyStart have probability 0, and the row holds no column
                // for them), so a chunk longer than the window must not be read from its start.
                let p = b.row(i)
                let vals = b.scoredKeys(i, in: span).map { p[$0 - b.keyStart] }
                for (mi, c) in multiples.enumerated() {
                    let t = Float(c / Double(w))
                    acc[o + mi] += Double(vals.reduce(0) { $0 + ($1 > t ? 1 : 0) }) / Double(w)
                }
                let top = max(1, (w + 99) / 100)
                acc[o + multiples.count] += Double(vals.sorted(by: >).prefix(top).reduce(0, +))
                acc[o + multiples.count + 1] += 1
            }
        }
    }

    /// (fraction above c/w for each c, top-1 % mass), each [layer * heads].
    public func means() -> (above: [[Float]], top1: [Float]) {
        let stride = multiples.count + 2
        var above = Array(repeating: [Float](repeating: .nan, count: layers * heads), count: multiples.count)
        var top = [Float](repeating: .nan, count: layers * heads)
        for lh in 0..<(layers * heads) {
            let n = sums.total[lh * stride + stride - 1]
            guard n > 0 else { continue }
            for m in 0..<multiples.count { above[m][lh] = Float(sums.total[lh * stride + m] / n) }
            top[lh] = Float(sums.total[lh * stride + multiples.count] / n)
        }
        return (above, top)
    }
}
