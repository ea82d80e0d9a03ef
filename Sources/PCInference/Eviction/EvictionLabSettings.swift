/// Which lab policy evicts in each chunk pass (or in the one pass of `--causal`), and its budget.
/// Budgets count a chunk's context keys kept per head, as a token count or as a ratio of the
/// chunk's candidates; the first `sink` and last `recent` candidates are protected (kept even
/// beyond the budget) and count towards it.
public struct EvictionLabSettings: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable { case streaming, h2o, tova, snapkv, pyramidkv, knorm, random }
    public var kind: Kind
    /// Keys kept per chunk and head (exclusive with `ratio`).
    public var budget: Int?
    /// Fraction of a chunk's candidates kept per head, in (0, 1].
    public var ratio: Double?
    public var sink = 4
    public var recent = 0
    /// Last question rows that score keys (SnapKV, PyramidKV).
    public var window = 8
    public var kernel = 7
    /// PyramidKV's top-to-mean ratio (the paper's beta).
    public var beta = 20.0
    public var seed: UInt64 = 0
    /// Variant (`--decode-eviction`, TOVA and H2O only): keep evicting during decoding as the
    /// policy's paper does, one key per head and generated token, so the cache keeps the size the
    /// question prefill left. Off by default: the lab evicts in the chunk passes only.
    public var decodeEviction = false

    public init(kind: Kind, budget: Int? = nil, ratio: Double? = nil, sink: Int = 4, recent: Int = 0, window: Int = 8, kernel: Int = 7,
                beta: Double = 20, seed: UInt64 = 0, decodeEviction: Bool = false) {
        self.kind = kind; self.budget = budget; self.ratio = ratio; self.sink = sink; self.recent = recent
        self.window = window; self.kernel = kernel; self.beta = beta; self.seed = seed; self.decodeEviction = decodeEviction
    }

    /// Missing keys take their defaults, so settings stored before a field existed still load.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(Kind.self, forKey: .kind)
        budget = try c.decodeIfPresent(Int.self, forKey: .budget)
        ratio = try c.decodeIfPresent(Double.self, forKey: .ratio)
        sink = try c.decodeIfPresent(Int.self, forKey: .sink) ?? 4
        recent = try c.decodeIfPresent(Int.self, forKey: .recent) ?? 0
        window = try c.decodeIfPresent(Int.self, forKey: .window) ?? 8
        kernel = try c.decodeIfPresent(Int.self, forKey: .kernel) ?? 7
        beta = try c.decodeIfPresent(Double.self, forKey: .beta) ?? 20
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0
        decodeEviction = try c.decodeIfPresent(Bool.self, forKey: .decodeEviction) ?? false
    }

    /// One line per setting that cannot work.
    public func check() throws {
        guard (budget == nil) != (ratio == nil) else { throw ConfigError("--policy needs exactly one of --budget N or --ratio R") }
        if let b = budget, b < 1 { throw ConfigError("--budget must be at least 1") }
        if let r = ratio, !(r > 0 && r <= 1) { throw ConfigError("--ratio must be in (0, 1]") }
        guard sink >= 0, recent >= 0 else { throw ConfigError("--sink and --recent must be at least 0") }
        if let b = budget, sink + recent > b { throw ConfigError("--sink \(sink) + --recent \(recent) exceed --budget \(b)") }
        guard window >= 1, kernel >= 1, kernel % 2 == 1 else { throw ConfigError("the policy's window must be >= 1 and its kernel odd") }
        guard beta >= 1 else { throw ConfigError("PyramidKV's beta must be at least 1") }
        if decodeEviction && decodePolicy(keep: 0) == nil {
            throw ConfigError("--decode-eviction is defined for --policy tova and h2o only (not \(kind.rawValue))")
        }
    }

    /// The budget for `n` candidates: the token count, or the ratio of n (rounded, at least 1).
    public func tokens(candidates n: Int) -> Int {
        if let b = budget { return b }
        return max(1, Int((ratio! * Double(n)).rounded()))
    }

    /// Keys each head of `layer` keeps out of `n` candidates, protected keys included: the budget
    /// (per layer for PyramidKV, whose budgets average it), never less than the protected keys
    /// nor more than n.
    public func kept(layer: Int, layers: Int, candidates n: Int) -> Int {
        let b = tokens(candidates: n)
        let layerBudget = kind == .pyramidkv ? PyramidKVPolicy.budgets(mean: b, layers: layers, beta: beta)[layer] : b
        return min(n, max(layerBudget, min(n, sink + recent)))
    }

    /// Candidate positions `0 ..< n` split into the protected ones and the ones the policy ranks.
    public func ranked(candidates n: Int) -> Range<Int> {
        let s = min(sink, n)
        return s..<max(s, n - recent)
    }

    /// The policy that ranks the middle candidates of one layer, keeping `keep` of them. `salt`
    /// varies the random baseline's draw by chunk and layer.
    public func policy(keep: Int, salt: UInt64) -> BudgetedPolicy {
        switch kind {
        case .streaming: return StreamingLLMPolicy(keep: keep)
        case .h2o: return H2OPolicy(keep: keep)
        case .tova: return TOVAPolicy(keep: keep)
        case .snapkv: return SnapKVCompression(.init(capacity: keep, window: window, kernel: kernel), budget: keep)
        case .pyramidkv: return PyramidKVPolicy(keep: keep, window: window, kernel: kernel)
        case .knorm: return KNormPolicy(keep: keep)
        case .random: return RandomPolicy(keep: keep, seed: seed &+ salt &* 0xD1B5_4A32_D192_ED03)
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

    /// What the chosen policy reads (the same for every layer).
    public var signal: KeySignal { policy(keep: 0, salt: 0).signal }
}

extension SnapKVCompression: BudgetedPolicy {
    /// SnapKV standalone (Li et al., 2024): the lab's `--policy snapkv`.
    public var signal: KeySignal { .attention(lastRows: settings.window) }
    public var keep: Int { budget }
}
