/// Runs attention calibration inside a forward pass (spec sections 4.2 and 4.5): before a covered
/// layer's attention, the last r rows of the pass (every row when r = 0, `RECENT_TOKENS=0`) score
/// every key of the pass, each row over all of them with no causal mask (the official code
/// computes these weights apart from flash-attention, with no mask); each rule's band,
/// counted over the candidate keys still present, gives the keys above lambda; heads are then
/// equalised. The keys are evicted during the pass (how its rows then see them is the cache's
/// `alignment`) and stay evicted after it.
final class CalibrationHook: AttentionHook {
    let rules: [CalibrationRule]
    let settings: ParallelCompConfig
    /// Scoring rows: the last `rows` of the pass, or all of them when 0.
    let rows: Int
    let kernel: AttentionKernel
    /// Keys that may be evicted: the chunk's context from its first candidate (chunk stage), or
    /// the combined chunks with (official) or without the question (question stage).
    let candidates: Range<Int>
    /// Key index just past the pass's last row.
    let passEndKey: Int
    /// Mark evictions as made during the pass (bottom-right alignment) rather than as plain ones.
    let duringPass: Bool
    /// Keys evicted per (layer, head), flat [layer * H + head].
    var evicted: [Int] { evictedKeys.flatMap { $0.map(\.count) } }
    private(set) var outliers: [Int]
    /// The evicted keys themselves, [layer][head] -> key indices in the pass's cache.
    private(set) var evictedKeys: [[[Int]]]
    let heads: Int
    /// The pass's name in `CalibrationCounts` (`CalibrationCounts.question` or `.chunk(id)`).
    let passKey: String

    init(rules: [CalibrationRule], settings: ParallelCompConfig, kernel: AttentionKernel,
         candidates: Range<Int>, passEndKey: Int, duringPass: Bool, layers: Int, heads: Int, passKey: String) {
        self.rules = rules; self.settings = settings; self.rows = max(0, settings.calibrationRows); self.kernel = kernel
        self.candidates = candidates; self.passEndKey = passEndKey; self.duringPass = duringPass; self.heads = heads; self.passKey = passKey
        outliers = Array(repeating: 0, count: layers * heads)
        evictedKeys = Array(repeating: Array(repeating: [], count: heads), count: layers)
    }

    func beforeAttention(layer: Int, q: UnsafePointer<Float>, rows T: Int, cache: KVCache, layout: AttentionLayout, firstRowKey: Int) throws {
        let active = rules.filter { $0.layers.contains(layer) }
        guard !active.isEmpty, firstRowKey + T == passEndKey, !candidates.isEmpty else { return }
        let r = rows == 0 ? T : min(rows, T)
        let H = heads, d = kernel.config.headDim
        let keyStart = layout.segments.last?.keyStart ?? 0
        let obs = LayerKeyScores(heads: H, keys: passEndKey)
        // Every scoring row is run as if it were the pass's last row, so it sees every key of
        // the pass (no causal mask); for r = 1 that is the plain causal row.
        let scope = ObservationScope(stage: .global, chunkSpans: [], chunkIDs: [], queryKeyStart: passEndKey - 1,
                                     queryRowStart: passEndKey - 1, queryRowCount: 1, firstRowKey: passEndKey - 1)
        _ = obs.begin(scope: scope, workers: kernel.workers)
        var scratch = [Float](repeating: 0, count: H * d)
        scratch.withUnsafeMutableBufferPointer { sp in
            for i in (T - r)..<T {
                kernel.run(layer: layer, q: q + i * H * d, rows: 1, cache: cache,
                           layout: AttentionLayout(segments: [.init(rows: 0..<1, keyStart: keyStart)]),
                           firstRowKey: passEndKey - 1, out: sp.baseAddress!, observers: [obs], scope: scope)
            }
        }
        obs.end()
        let scores: [[Float]] = (0..<H).map { h in obs.scores(head: h, count: passEndKey).map { $0 / Float(r) } }
        // Each head's candidates still present, with their positions in the cache as the
        // official code holds it (keys evicted by earlier passes are physically gone).
        func input() -> EvictionInput {
            EvictionInput(scores: scores, candidates: (0..<H).map { cache.candidates(layer: layer, head: $0, in: candidates) })
        }
        if settings.calibrationControl != .none, let replay = settings.calibrationControlCounts {
            // v5 control: the rule run's counts for this pass and layer, all rules together (a
            // pass the rule run left untouched has no entry: nothing goes).
            let counts = replay[passKey].map { Array($0[(layer * H)..<((layer + 1) * H)]) } ?? Array(repeating: 0, count: H)
            let wanted = EvictionSelection(evicted: counts.map { Array(repeating: -1, count: $0) }, outliers: Array(repeating: 0, count: H))
            apply(CalibrationControlDraw(control: settings.calibrationControl, seed: settings.calibrationControlSeed,
                                         layer: layer, passEndKey: passEndKey).replacing(wanted, input: input()), layer: layer, cache: cache)
            return
        }
        for rule in active {
            // Per rule: an earlier rule of this layer may have evicted some candidates.
            let inp = input()
            var selection = policy(rule).select(inp)
            if settings.calibrationControl != .none {
                selection = CalibrationControlDraw(control: settings.calibrationControl,
                                                   seed: settings.calibrationControlSeed, layer: layer, passEndKey: passEndKey)
                    .replacing(selection, input: inp)
            }
            apply(selection, layer: layer, cache: cache)
        }
    }

    private func apply(_ selection: EvictionSelection, layer: Int, cache: KVCache) {
        cache.evict(layer: layer, selection: selection, covering: passEndKey, duringPass: duringPass)
        for h in 0..<heads {
            outliers[layer * heads + h] += selection.outliers[h]
            evictedKeys[layer][h] = (evictedKeys[layer][h] + selection.evicted[h]).sorted()
        }
    }

    /// The policy a rule names: per-head band calibration or the head-agnostic variant.
    func policy(_ rule: CalibrationRule) -> any EvictionPolicy {
        rule.perHead ? AttentionCalibration(lambda: settings.lambda, width: settings.bandWidth, band: rule.band,
                                            equalizeHeads: settings.equalizeHeads, edges: settings.bandEdges)
                     : HeadAgnosticCalibration(lambda: settings.lambda)
    }
}

/// Keys a run's calibration evicted per pass, [pass key] -> flat [layer * heads + head] counts:
/// what a v5 control replays (`ParallelCompConfig.calibrationControlCounts`).
public typealias CalibrationCounts = [String: [Int]]

public enum CalibrationPass {
    public static let question = "question"
    public static func chunk(_ id: Int) -> String { "chunk \(id)" }
}

/// The matched control of a calibration selection: each head loses exactly as many keys as the
/// rule chose for it, but chosen at random (uniformly among its candidates still present) or as
/// its lowest-scoring candidates. The difference between a rule's effect and its control's is
/// the effect of *which* keys went, not of how many.
public struct CalibrationControlDraw: Sendable {
    public let control: ParallelCompConfig.CalibrationControl
    public let seed: UInt64, layer: Int, passEndKey: Int

    public init(control: ParallelCompConfig.CalibrationControl, seed: UInt64, layer: Int, passEndKey: Int) {
        self.control = control; self.seed = seed; self.layer = layer; self.passEndKey = passEndKey
    }

    public func replacing(_ sel: EvictionSelection, input: EvictionInput) -> EvictionSelection {
        var out = sel
        for h in sel.evicted.indices {
            let keys = input.candidates[h].map(\.key), n = min(sel.evicted[h].count, keys.count)
            guard n > 0 else { continue }
            switch control {
            case .none: continue
            case .random:
                // One stream per (seed, layer, pass, head): reruns draw the same keys.
                var rng = SplitMix64(seed: seed ^ (UInt64(layer) &* 0x9E37_79B9_7F4A_7C15)
                                     ^ (UInt64(passEndKey) &* 0xC2B2_AE3D_27D4_EB4F) ^ (UInt64(h) &* 0x1656_67B1_9E37_79F9))
                var pool = keys
                for i in 0..<n { pool.swapAt(i, i + Int(rng.next() % UInt64(pool.count - i))) }
                out.evicted[h] = pool.prefix(n).sorted()
            case .lowest:
                let sc = input.scores[h]
                out.evicted[h] = keys.sorted { sc[$0] != sc[$1] ? sc[$0] < sc[$1] : $0 < $1 }.prefix(n).sorted()
            }
        }
        return out
    }
}

/// Summed probabilities per key over the rows of one kernel call (one layer).
final class LayerKeyScores: AttentionObserver, @unchecked Sendable {
    let heads: Int, keys: Int
    private let sums: WorkerAccumulator<Float>   // [head, key]
    init(heads: Int, keys: Int) { self.heads = heads; self.keys = keys; sums = WorkerAccumulator(Shape(heads, keys)) }
    func begin(scope: ObservationScope, workers: Int) -> Bool { sums.begin(workers: workers); return true }
    func wants(isQuery: Bool) -> Bool { isQuery }
    func observe(_ b: AttentionBlock) {
        b.addKeyMass(fromRow: 0, into: sums.slot(b.worker) + sums.shape(b.head, 0), keyCount: keys)
    }
    func end() { sums.endPass() }
    func scores(head: Int, count: Int) -> [Float] { Array(sums.total[sums.shape(head, 0)..<(sums.shape(head, 0) + min(count, keys))]) }
}
