import Foundation
import PCInference

/// One example of the claims run: a document cut from the default essays at `offset`, split
/// into `chunks` chunks, with a question; plus a pass-key document for the retrieval claims.
public struct ClaimExample: Codable, Sendable, Equatable {
    public var index: Int
    /// First essay token of the document.
    public var offset: Int
    public var chunks: Int
    public var question: String
    public var passkeyDepth: Double
    public var passkeySeed: UInt64
    /// Essay token at which the example's own pass-key haystack starts (protocol v2). nil: the
    /// fixed noise filler of v1 runs, where examples at one depth repeat a configuration.
    public var passkeyHaystack: Int?
    public init(index: Int, offset: Int, chunks: Int, question: String, passkeyDepth: Double, passkeySeed: UInt64, passkeyHaystack: Int? = nil) {
        self.index = index; self.offset = offset; self.chunks = chunks; self.question = question; self.passkeyDepth = passkeyDepth
        self.passkeySeed = passkeySeed; self.passkeyHaystack = passkeyHaystack
    }

    /// The configuration an example's pass-key runs share with others: its own when it has its
    /// own haystack, else its depth (the v1 filler and placement repeat every five examples).
    public var clusterKey: String {
        passkeyHaystack.map { "haystack \($0) depth \(passkeyDepth)" } ?? "filler depth \(passkeyDepth)"
    }

    /// The unit that pairs this example with the same example of another run (another model or
    /// layout). With its own haystack it is the example itself: the haystack's offset counts the
    /// model's own tokens, so `clusterKey` differs between models for the same configuration.
    /// Under the v1 filler the configuration (its depth) is shared by both runs.
    public var pairingKey: String {
        passkeyHaystack == nil ? clusterKey : "example \(index)"
    }
}

/// Everything that fixes the work list and the runs; a part's header stores it, so parts of
/// different settings are never merged.
public struct ClaimSettings: Codable, Sendable, Equatable {
    public var examples = 40
    /// Content tokens per chunk (the template prefix comes on top).
    public var width = 256
    /// Chunk counts, cycled over the examples.
    public var chunkCounts = [2, 3, 4]
    /// Chunk width of T11's small-chunk run (its large widths are `width` and chunks x width).
    public var smallWidth = 64
    public var passkeyTokens = 768, passkeyChunk = 256
    /// T18: chunk width and chunk counts of the continuation runs, and the tokens scored.
    public var continuationWidth = 128, continuationCounts = [1, 2, 8], continuationTokens = 48
    /// T14/T16: rounds of few-shot demonstrations (every question type once) per chunk.
    public var fewShotRoundsPerChunk = 3
    /// T17: content tokens per ranked chunk, and the chunk counts read from one run of the largest.
    public var rankingWidth = 48, rankingCounts = [4, 8, 16, 32]
    /// Seeds the examples' offsets, questions and pass keys, and the bootstrap.
    public var seed: UInt64 = 2025
    public var model = ""
    /// Chunk and question layout (docs/claims-protocol.md): official (no chat markup) by default.
    public var promptLayout = ClaimPromptLayout.official
    /// Every pass-key example gets its own essay haystack and a placement from the grid of
    /// chunk x within-chunk position (protocol v2); false: v1's one noise filler.
    public var passkeyHaystacks = true
    /// Protocol the run follows (ClaimProtocol.version); parts of another protocol never merge.
    public var protocolVersion = ClaimProtocol.version

    public init() {}

    /// A CI-sized run: two small examples, every claim still measured (too few for a verdict).
    public static var quick: ClaimSettings {
        var s = ClaimSettings()
        s.examples = 2; s.width = 128; s.chunkCounts = [2, 3]; s.smallWidth = 32
        s.passkeyTokens = 384; s.passkeyChunk = 192
        s.continuationWidth = 64; s.continuationCounts = [1, 4]; s.continuationTokens = 16
        s.fewShotRoundsPerChunk = 2; s.rankingWidth = 32; s.rankingCounts = [4, 8]
        return s
    }

    /// Protocol v4's window size: essay and pass-key chunks of 768 content tokens, 1.5x Gemma 3's
    /// 512-token sliding window, so a chunk's last third of rows sees none of its first keys in a
    /// local layer while the global layers see them all; n = 20. Continuation, few-shot and
    /// ranking runs keep the standard sizes (they test nothing about the window).
    public static var window: ClaimSettings {
        var s = ClaimSettings()
        s.examples = 20; s.width = 768; s.smallWidth = 192
        s.passkeyTokens = 2304; s.passkeyChunk = 768
        return s
    }

    /// The named size these settings' widths match (nil: a custom mix, as tests build).
    public var size: ClaimSize? {
        ClaimSize.allCases.first { s in
            let p = s.preset
            return p.width == width && p.smallWidth == smallWidth && p.passkeyChunk == passkeyChunk && p.passkeyTokens == passkeyTokens
                && p.chunkCounts == chunkCounts && p.continuationWidth == continuationWidth && p.rankingWidth == rankingWidth
        }
    }

    /// Sink and recent band width: about 2.5 % of a chunk, the paper's 100 of 3,600-4,000 tokens.
    public var bandWidth: Int { max(1, Int((0.025 * Double(width)).rounded())) }

    public static let questions = ["What are these essays about?", "What is the author's main argument?",
                            "Which examples does the author give?", "What advice does the author give?",
                            "Summarise the text in one sentence."]

    /// Essay tokens one example needs from its offset.
    public var tokensNeeded: Int {
        max((chunkCounts.max() ?? 1) * width, (continuationCounts.max() ?? 1) * continuationWidth + 16 + continuationTokens)
    }

    /// Where a pass key goes in its document: which of its chunks (by depth) and where in it.
    public static let passkeyWithinChunk = [0.1, 0.5, 0.9]

    /// The examples: offsets drawn uniformly over the essays from the seed, chunk counts and
    /// questions cycled. Pass keys (v2): each its own haystack offset (a second seeded stream,
    /// so the essay offsets stay v1's) and a placement cycling over chunk x within-chunk
    /// position; v1: evenly spread depths on one filler.
    public func workList(essayTokens: Int) -> [ClaimExample] {
        var rng = SplitMix64(seed: seed), hay = SplitMix64(seed: seed ^ 0x5EED_4A57)
        let room = max(1, essayTokens - tokensNeeded)
        let chunksPerKey = max(1, Int((Double(passkeyTokens) / Double(passkeyChunk)).rounded()))
        let within = Self.passkeyWithinChunk
        return (0..<examples).map { i in
            var e = ClaimExample(index: i, offset: Int(rng.next() % UInt64(room)), chunks: chunkCounts[i % chunkCounts.count],
                                 question: Self.questions[i % Self.questions.count],
                                 passkeyDepth: Double(i % 5) / 4, passkeySeed: seed &+ UInt64(i))
            if passkeyHaystacks {
                let cell = i % (chunksPerKey * within.count)
                e.passkeyDepth = (Double(cell / within.count) + within[cell % within.count]) / Double(chunksPerKey)
                e.passkeyHaystack = Int(hay.next() % UInt64(max(1, essayTokens - passkeyTokens - 64)))
            }
            return e
        }
    }

    /// Estimated cost of an example for sharding: tokens prefilled, all runs together.
    public func cost(_ e: ClaimExample) -> Double {
        Double(10 * e.chunks * width + 15 * passkeyTokens + continuationCounts.reduce(0, +) * continuationWidth
               + 6 * e.chunks * fewShotRoundsPerChunk * 56 + (rankingCounts.max() ?? 0) * rankingWidth)
    }
}

extension ClaimSettings {
    /// Parts written before a setting existed lack its key: it takes its default.
    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func v<T: Decodable>(_ k: CodingKeys, _ d: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? d }
        examples = try v(.examples, examples); width = try v(.width, width); chunkCounts = try v(.chunkCounts, chunkCounts)
        smallWidth = try v(.smallWidth, smallWidth); passkeyTokens = try v(.passkeyTokens, passkeyTokens)
        passkeyChunk = try v(.passkeyChunk, passkeyChunk); continuationWidth = try v(.continuationWidth, continuationWidth)
        continuationCounts = try v(.continuationCounts, continuationCounts); continuationTokens = try v(.continuationTokens, continuationTokens)
        fewShotRoundsPerChunk = try v(.fewShotRoundsPerChunk, fewShotRoundsPerChunk)
        rankingWidth = try v(.rankingWidth, rankingWidth); rankingCounts = try v(.rankingCounts, rankingCounts)
        seed = try v(.seed, seed); model = try v(.model, model)
        // Parts written before protocol v2 ran the chat layout on the one filler.
        promptLayout = try v(.promptLayout, .chat); passkeyHaystacks = try v(.passkeyHaystacks, false)
        protocolVersion = try v(.protocolVersion, "1")
    }
}

/// The protocol's named run sizes (docs/claims-protocol.md, section 1).
public enum ClaimSize: String, Codable, Sendable, CaseIterable {
    /// 256-token chunks, n = 40: both models on equal terms (the headline tables).
    case standard
    /// 768-token chunks, n = 20: chunks exceed Gemma 3's 512-token sliding window.
    case window
    /// Two small examples for checking the pipeline; no verdict.
    case quick

    public var preset: ClaimSettings {
        switch self {
        case .standard: return ClaimSettings()
        case .window: return .window
        case .quick: return .quick
        }
    }

    /// The default results folder of a run: MODEL-vPROTOCOL-LAYOUT, then -window or -quick for
    /// those sizes. Runs of other protocol versions, layouts or sizes never share a folder (a
    /// `--quick` run once wrote its two examples over committed 40-example results).
    public func folder(model base: String, layout: ClaimPromptLayout, protocolVersion: String = ClaimProtocol.version) -> String {
        let stem = base + "-v" + protocolVersion + "-" + layout.rawValue
        switch self {
        case .standard: return stem
        case .window: return stem + "-window"
        case .quick: return stem + "-quick"
        }
    }
}

/// One finished example: its numbers per claim, and the arrays the figures average.
public struct ExampleRow: Codable, Sendable {
    public var example: ClaimExample
    public var claims: [String: [String: Double]]
    public var arrays: [String: [Double]]
    public var seconds: Double
    /// sha256 of the protocol the row was measured under (nil: written before protocol v2).
    public var protocolSHA256: String?
    public init(example: ClaimExample, claims: [String: [String: Double]], arrays: [String: [Double]], seconds: Double,
                protocolSHA256: String? = ClaimProtocol.sha256) {
        self.example = example; self.claims = claims; self.arrays = arrays; self.seconds = seconds; self.protocolSHA256 = protocolSHA256
    }
}
