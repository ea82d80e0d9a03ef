/// Sampling settings: temperature 0 means greedy.
public struct SamplingSettings: Sendable, Codable, Equatable {
    public var temperature: Float = 0
    public var topP: Float = 1
    public var seed: UInt64 = 0
    public init(temperature: Float = 0, topP: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature; self.topP = topP; self.seed = seed
    }
    /// Missing keys take their defaults, like the rest of a pipeline config file.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        temperature = try c.decodeIfPresent(Float.self, forKey: .temperature) ?? 0
        topP = try c.decodeIfPresent(Float.self, forKey: .topP) ?? 1
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0
    }
}

/// A small deterministic generator (SplitMix64) so sampled runs repeat exactly from a seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Picks the next token from a row of logits.
public struct Sampler: Sendable {
    public let settings: SamplingSettings
    var rng: SplitMix64
    public init(_ s: SamplingSettings) { settings = s; rng = SplitMix64(seed: s.seed) }

    public mutating func next(_ logits: ArraySlice<Float>, banned: Set<Int> = []) -> Int {
        let base = logits.startIndex
        if settings.temperature <= 0 {
            var best = -1; var bv = -Float.infinity
            for i in logits.indices where logits[i] > bv && !banned.contains(i - base) { bv = logits[i]; best = i - base }
            return best
        }
        // Temperature softmax, then the smallest set of tokens whose mass reaches top-p.
        let t = settings.temperature
        var items: [(Int, Float)] = []
        items.reserveCapacity(logits.count)
        let mx = logits.max() ?? 0
        var z: Float = 0
        for i in logits.indices where !banned.contains(i - base) {
            let p = ((logits[i] - mx) / t).expApprox
            items.append((i - base, p)); z += p
        }
        items.sort { $0.1 > $1.1 }
        var kept: [(Int, Float)] = []
        var mass: Float = 0
        for it in items {
            kept.append(it); mass += it.1 / z
            if mass >= settings.topP { break }
        }
        let total = kept.reduce(0) { $0 + $1.1 }
        var u = Float(Double(rng.next() >> 11) / Double(1 << 53)) * total
        for it in kept { u -= it.1; if u <= 0 { return it.0 } }
        return kept.last!.0
    }
}

extension Float {
    var expApprox: Float { VectorMath.exp(SIMD16(repeating: self))[0] }
}

/// The token-by-token loop every generator shares (the pipeline's decode stage, `Generator`,
/// the decode benchmark, and the lab's points decoding side by side): sample from the last
/// logits, keep the token, stop at a stop token, at `maxTokens` or when `onToken` says so,
/// otherwise run the token through the model at the next position.
public struct DecodeLoop {
    public let maxTokens: Int
    public let stopTokens: Set<Int>
    /// No stop token may be the first (the official `min_length`, section 1.9).
    public let banStopsFirst: Bool
    /// Every token taken so far, a final stop token included.
    public private(set) var tokens: [Int] = []
    /// Where the next token the model runs goes.
    public private(set) var position: Int
    public private(set) var finished: Bool

    public init(position: Int, maxTokens: Int, stopTokens: Set<Int>, banStopsFirst: Bool = false) {
        self.position = position; self.maxTokens = maxTokens; self.stopTokens = stopTokens; self.banStopsFirst = banStopsFirst
        finished = maxTokens <= 0
    }

    /// Takes the next token from `logits` (`onToken` sees it before the stop check); returns the
    /// token and position the model must run next, or nil when the answer is finished.
    public mutating func take(_ logits: [Float], sampler: inout Sampler, onToken: (Int) -> Bool) -> (token: Int, position: Int)? {
        guard !finished else { return nil }
        let t = sampler.next(logits[...], banned: banStopsFirst && tokens.isEmpty ? stopTokens : [])
        tokens.append(t)
        if !onToken(t) || stopTokens.contains(t) || tokens.count == maxTokens { finished = true; return nil }
        defer { position += 1 }
        return (t, position)
    }

    /// One sequence to the end: `next` runs a token through the model (it owns the cache,
    /// observers and any per-step eviction) and returns the following logits.
    public static func run(logits first: [Float], position: Int, maxTokens: Int, sampler: inout Sampler, stopTokens: Set<Int>,
                           banStopsFirst: Bool = false, cancelled: () -> Bool = { false }, onToken: (Int) -> Bool = { _ in true },
                           next: (_ token: Int, _ position: Int) throws -> [Float]) throws -> [Int] {
        var loop = DecodeLoop(position: position, maxTokens: maxTokens, stopTokens: stopTokens, banStopsFirst: banStopsFirst)
        var logits = first
        while !loop.finished {
            if cancelled() { throw CancellationError() }
            guard let (t, pos) = loop.take(logits, sampler: &sampler, onToken: onToken) else { break }
            logits = try next(t, pos)
        }
        return loop.tokens
    }
}

/// Prefill a prompt, then decode token by token with a KV cache.
public struct Generator {
    public let model: LlamaModel
    public init(model: LlamaModel) { self.model = model }

    /// Greedy decoding; the stop token, when produced, is included in the result.
    public func greedy(prompt: [Int], maxTokens: Int, stopTokens: Set<Int>) throws -> [Int] {
        try generate(prompt: prompt, maxTokens: maxTokens, sampling: SamplingSettings(), stopTokens: stopTokens)
    }

    /// Generates up to maxTokens; `onToken` returns false to stop early.
    public func generate(prompt: [Int], maxTokens: Int, sampling: SamplingSettings, stopTokens: Set<Int>,
                         onToken: (Int) -> Bool = { _ in true }) throws -> [Int] {
        guard !prompt.isEmpty else { throw ModelError("the prompt is empty") }
        let cache = model.makeCache()
        var sampler = Sampler(sampling)
        let logits = try model.forward(tokens: prompt, positions: Array(0..<prompt.count), cache: cache, logitRows: [prompt.count - 1])
        // A stop token ends the answer without reaching the caller's onToken.
        return try DecodeLoop.run(logits: logits, position: prompt.count, maxTokens: maxTokens, sampler: &sampler, stopTokens: stopTokens,
                                  onToken: { stopTokens.contains($0) || onToken($0) }) { t, pos in
            try model.forward(tokens: [t], positions: [pos], cache: cache, logitRows: [0], stageName: "decode")
        }
    }
}
