/// Which lab policy evicts in each chunk pass (or in the one pass of `--causal`), and its budget.
/// Budgets count a chunk's context keys kept per KV head (per query head with `perQueryHead`), as
/// a token count or as a ratio of the chunk's candidates; the first `sink` and last `recent`
/// candidates are protected (kept even beyond the budget) and count towards it.
///
/// Every setting left nil takes the policy's reference value (`Reference`), the one its reference
/// code ships with, so `--policy snapkv --ratio 0.5` is SnapKV as its authors run it.
public struct EvictionLabSettings: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case streaming, h2o, tova
        /// SnapKV's own code: window 32, kernel 5, average pooling.
        case snapkv
        /// kvpress's `SnapKVPress`: window 64, kernel 5, average pooling.
        case snapkvKvpress = "snapkv-kvpress"
        /// ParallelComp's per-chunk SnapKV: window 8, kernel 7, max pooling.
        case pcSnapkv = "pc-snapkv"
        case pyramidkv, knorm, random
        /// kvpress's `ExpectedAttentionPress` (n_future 512, n_sink 4); not for QK-norm models.
        case expectedAttention = "expected-attention"
    }
    public enum Pool: String, Codable, Sendable { case avg, max }

    /// Where a lab runs (docs/eviction-lab.md). `parallelComp`: per-chunk eviction inside the
    /// chunk passes, question appended (query-aware). `kvpress`: one causal context inside the
    /// trained context, compressed after its own prefill without the question, then the question.
    public enum Setting: String, Codable, Sendable, CaseIterable { case parallelComp = "parallelcomp", kvpress }

    public var kind: Kind
    /// Keys kept per chunk and KV head (exclusive with `ratio`).
    public var budget: Int?
    /// Fraction of a chunk's candidates kept per KV head, in (0, 1] (kvpress's 1 - compression_ratio).
    public var ratio: Double?
    /// Protected first candidates (nil: 4 for StreamingLLM, its n_sink; 0 for the others, as kvpress).
    public var sinkOverride: Int?
    public var recent = 0
    /// Observation window, pooling kernel and pooling (SnapKV family; nil: the kind's reference).
    public var windowOverride: Int?
    public var kernelOverride: Int?
    public var poolOverride: Pool?
    /// PyramidKV's beta.
    public var beta = 20.0
    public var seed: UInt64 = 0
    /// Variant: every query head selects its own keys (up to `groupSize` times more distinct KV
    /// than per-KV-head selection). Off: scores are averaged over each KV head's query group and
    /// the group keeps one set, as kvpress does, so the budget is memory.
    public var perQueryHead = false
    /// Variant (`--decode-eviction`, TOVA and H2O only): keep evicting during decoding as the
    /// policy's paper does, one key per head and generated token, so the cache keeps the size the
    /// question prefill left. Off by default: the lab evicts in the chunk passes only.
    public var decodeEviction = false
    public var setting: Setting = .parallelComp
    /// ParallelComp setting only: the chunk holding the evidence is always kept, so eviction is
    /// measured apart from chunk selection.
    public var oracleChunk = false

    /// The overrides keep the names settings were stored under before they were optional.
    enum CodingKeys: String, CodingKey {
        case kind, budget, ratio, sinkOverride = "sink", recent, windowOverride = "window", kernelOverride = "kernel", poolOverride = "pool"
        case beta, seed, perQueryHead, decodeEviction, setting, oracleChunk
    }

    public init(kind: Kind, budget: Int? = nil, ratio: Double? = nil, sink: Int? = nil, recent: Int = 0, window: Int? = nil, kernel: Int? = nil,
                pool: Pool? = nil, beta: Double = 20, seed: UInt64 = 0, perQueryHead: Bool = false, decodeEviction: Bool = false,
                setting: Setting = .parallelComp, oracleChunk: Bool = false) {
        self.kind = kind; self.budget = budget; self.ratio = ratio; self.sinkOverride = sink; self.recent = recent
        self.windowOverride = window; self.kernelOverride = kernel; self.poolOverride = pool; self.beta = beta; self.seed = seed
        self.perQueryHead = perQueryHead; self.decodeEviction = decodeEviction; self.setting = setting; self.oracleChunk = oracleChunk
    }

    /// Missing keys take their defaults, so settings stored before a field existed still load.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(Kind.self, forKey: .kind)
        budget = try c.decodeIfPresent(Int.self, forKey: .budget)
        ratio = try c.decodeIfPresent(Double.self, forKey: .ratio)
        sinkOverride = try c.decodeIfPresent(Int.self, forKey: .sinkOverride)
        recent = try c.decodeIfPresent(Int.self, forKey: .recent) ?? 0
        windowOverride = try c.decodeIfPresent(Int.self, forKey: .windowOverride)
        kernelOverride = try c.decodeIfPresent(Int.self, forKey: .kernelOverride)
        poolOverride = try c.decodeIfPresent(Pool.self, forKey: .poolOverride)
        beta = try c.decodeIfPresent(Double.self, forKey: .beta) ?? 20
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0
        perQueryHead = try c.decodeIfPresent(Bool.self, forKey: .perQueryHead) ?? false
        decodeEviction = try c.decodeIfPresent(Bool.self, forKey: .decodeEviction) ?? false
        setting = try c.decodeIfPresent(Setting.self, forKey: .setting) ?? .parallelComp
        oracleChunk = try c.decodeIfPresent(Bool.self, forKey: .oracleChunk) ?? false
    }

    /// The reference settings each kind runs with, and the file they come from.
    public struct Reference: Sendable {
        public var window: Int, kernel: Int, pool: Pool, sink: Int, source: String
    }

    public static func reference(_ k: Kind) -> Reference {
        switch k {
        case .snapkv: return .init(window: 32, kernel: 5, pool: .avg, sink: 0, source: "FasterDecoding/SnapKV snapkv/monkeypatch/snapkv_utils.py (init_snapkv: window 32, kernel 5, avgpool)")
        case .snapkvKvpress: return .init(window: 64, kernel: 5, pool: .avg, sink: 0, source: "NVIDIA/kvpress kvpress/presses/snapkv_press.py")
        case .pcSnapkv: return .init(window: 8, kernel: 7, pool: .max, sink: 0, source: "menik1126/ParallelComp kv_cache_eviction (window 8, kernel 7, maxpool)")
        case .pyramidkv: return .init(window: 64, kernel: 5, pool: .avg, sink: 0, source: "NVIDIA/kvpress kvpress/presses/pyramidkv_press.py (beta 20)")
        case .streaming: return .init(window: 0, kernel: 1, pool: .max, sink: 4, source: "NVIDIA/kvpress kvpress/presses/streaming_llm_press.py (n_sink 4)")
        case .h2o: return .init(window: 0, kernel: 1, pool: .max, sink: 0, source: "FMInference/H2O h2o_hf/utils_real_drop/modify_llama.py (heavy + recent, equal halves)")
        case .tova: return .init(window: 1, kernel: 1, pool: .max, sink: 0, source: "NVIDIA/kvpress kvpress/presses/tova_press.py")
        case .knorm: return .init(window: 0, kernel: 1, pool: .max, sink: 0, source: "NVIDIA/kvpress kvpress/presses/knorm_press.py")
        case .random: return .init(window: 0, kernel: 1, pool: .max, sink: 0, source: "NVIDIA/kvpress kvpress/presses/random_press.py")
        case .expectedAttention:
            return .init(window: 0, kernel: 1, pool: .max, sink: ExpectedAttention.sink,
                         source: "NVIDIA/kvpress kvpress/presses/expected_attention_press.py (n_future_positions 512, n_sink 4, covariance, value norms)")
        }
    }

    public var sink: Int { sinkOverride ?? Self.reference(kind).sink }
    public var window: Int { windowOverride ?? Self.reference(kind).window }
    public var kernel: Int { kernelOverride ?? Self.reference(kind).kernel }
    public var pool: Pool { poolOverride ?? Self.reference(kind).pool }
    var usesWindow: Bool { [.snapkv, .snapkvKvpress, .pcSnapkv, .pyramidkv].contains(kind) }

    /// The first setting that cannot work, as a `SettingError`.
    public func check() throws(SettingError) {
        guard (budget == nil) != (ratio == nil) else { throw .budgetAndRatio }
        if let b = budget, b < 1 { throw .budgetBelowOne }
        if let r = ratio, !(r > 0 && r <= 1) { throw .ratioOutOfRange }
        guard sink >= 0, recent >= 0 else { throw .negativeSinkOrRecent }
        if let b = budget, sink + recent > b { throw .protectedOverBudget(sink: sink, recent: recent, budget: b) }
        if usesWindow { guard window >= 1, kernel >= 1, kernel % 2 == 1 else { throw .windowOrKernel } }
        guard beta >= 1 else { throw .betaBelowOne }
        if decodeEviction && decodePolicy(keep: 0) == nil { throw .decodeEvictionUnsupported(policy: kind.rawValue) }
        if oracleChunk && setting == .kvpress { throw .oracleChunkInKVPress }
    }

    /// The budget for `n` candidates: the token count, or kvpress's `max(1, int(n x ratio))`.
    public func tokens(candidates n: Int) -> Int {
        if let b = budget { return b }
        return max(1, Int((ratio! * Double(n)).rounded(.down)))
    }

    /// Keys each KV head of `layer` keeps out of `n` candidates, protected keys included: the
    /// budget (per layer for PyramidKV), never less than the protected keys nor more than n.
    public func kept(layer: Int, layers: Int, candidates n: Int) -> Int {
        let layerBudget: Int
        if kind == .pyramidkv {
            let mean = budget.map(Double.init) ?? ratio! * Double(n)
            layerBudget = PyramidKVPolicy.layerBudget(layer: layer, layers: layers, candidates: n, mean: mean, window: window, beta: beta)
        } else {
            layerBudget = tokens(candidates: n)
        }
        return min(n, max(layerBudget, min(n, sink + recent)))
    }

    /// Candidate positions `0 ..< n` split into the protected ones and the ones the policy ranks.
    public func ranked(candidates n: Int) -> Range<Int> {
        let s = min(sink, n)
        return s..<max(s, n - recent)
    }

    /// The policy that ranks the middle candidates of one layer, keeping `keep` of them. `salt`
    /// varies the random baseline's draw by chunk and layer; `group` is the query heads per KV
    /// head (the random draw is shared within a group unless `perQueryHead`).
    public func policy(keep: Int, salt: UInt64, group: Int = 1) -> BudgetedPolicy {
        switch kind {
        case .streaming: return StreamingLLMPolicy(keep: keep)
        case .h2o: return H2OPolicy(keep: keep, recent: keep / 2)
        case .tova: return TOVAPolicy(keep: keep)
        case .snapkv, .snapkvKvpress, .pcSnapkv: return SnapKVPolicy(keep: keep, window: window, kernel: kernel, pool: pool, label: kind.rawValue)
        case .pyramidkv: return SnapKVPolicy(keep: keep, window: window, kernel: kernel, pool: pool, label: "pyramidkv")
        case .knorm: return KNormPolicy(keep: keep)
        case .random: return RandomPolicy(keep: keep, seed: seed &+ salt &* 0xD1B5_4A32_D192_ED03, group: perQueryHead ? 1 : group)
        case .expectedAttention: return ExpectedAttentionPolicy(keep: keep, sink: sink)
        }
    }

    /// The policy's decode-time form (TOVA, H2O with the lab's `recent` window), or nil for the
    /// policies whose papers define none.
    public func decodePolicy(keep: Int) -> (any DecodeStepPolicy)? {
        switch kind {
        case .tova: return TOVADecodeEviction(keep: keep)
        case .h2o: return H2ODecodeEviction(keep: keep, recent: recent)
        default: return nil
        }
    }

    /// Whether the policy can run on a model of `config`: ExpectedAttention cannot on QK-norm
    /// models (Gemma 3), as kvpress refuses them.
    public func check(model config: ModelConfig) throws(SettingError) {
        if kind == .expectedAttention && config.hasQKNorm { throw .expectedAttentionNeedsNoQKNorm(model: config.name, architecture: config.architecture) }
    }

    /// The kinds that can run on a model of `config` out of `kinds`, and the ones left out.
    public static func runnable(_ kinds: [Kind], model config: ModelConfig) -> (kept: [Kind], left: [Kind]) {
        let ok = kinds.filter { k in (try? EvictionLabSettings(kind: k, ratio: 1).check(model: config)) != nil }
        return (ok, kinds.filter { !ok.contains($0) })
    }

    /// What the chosen policy reads (the same for every layer).
    public var signal: KeySignal { policy(keep: 0, salt: 0).signal }

    /// One layer's selection as the lab makes it: scores per query head, grouped per KV head
    /// unless `perQueryHead`, over candidates `ranked` (keys `first + i`) of a pass ending at key
    /// `passEnd`.
    public func select(_ p: BudgetedPolicy, ranked: Range<Int>, first: Int, passEnd: Int, scores: [[Float]], group: Int) -> EvictionSelection {
        let cand = scores.indices.map { _ in ranked.map { EvictionCandidate(key: first + $0, position: $0) } }
        return GroupedSelection.select(p, EvictionInput(scores: scores, candidates: cand, passEnd: passEnd), group: perQueryHead ? 1 : group)
    }
}
