import Foundation
import PCInference

/// One example of the claims run: a document cut from the default essays at `offset`, split
/// into `chunks` chunks, with a question; plus a pass-key document for the retrieval claims.
struct ClaimExample: Codable, Sendable, Equatable {
    var index: Int
    /// First essay token of the document.
    var offset: Int
    var chunks: Int
    var question: String
    var passkeyDepth: Double
    var passkeySeed: UInt64
}

/// Everything that fixes the work list and the runs; a part's header stores it, so parts of
/// different settings are never merged.
struct ClaimSettings: Codable, Sendable, Equatable {
    var examples = 20
    /// Content tokens per chunk (the template prefix comes on top).
    var width = 256
    /// Chunk counts, cycled over the examples.
    var chunkCounts = [2, 3, 4]
    /// Chunk width of T11's small-chunk run (its large widths are `width` and chunks x width).
    var smallWidth = 64
    var passkeyTokens = 768, passkeyChunk = 256
    /// T18: chunk width and chunk counts of the continuation runs, and the tokens scored.
    var continuationWidth = 128, continuationCounts = [1, 2, 8], continuationTokens = 48
    /// Seeds the examples' offsets, questions and pass keys, and the bootstrap.
    var seed: UInt64 = 2025
    var model = ""

    /// A CI-sized run: two small examples, every claim still measured (too few for a verdict).
    static var quick: ClaimSettings {
        var s = ClaimSettings()
        s.examples = 2; s.width = 128; s.chunkCounts = [2, 3]; s.smallWidth = 32
        s.passkeyTokens = 384; s.passkeyChunk = 192
        s.continuationWidth = 64; s.continuationCounts = [1, 4]; s.continuationTokens = 16
        return s
    }

    /// Sink and recent band width: about 2.5 % of a chunk, the paper's 100 of 3,600-4,000 tokens.
    var bandWidth: Int { max(1, Int((0.025 * Double(width)).rounded())) }

    static let questions = ["What are these essays about?", "What is the author's main argument?",
                            "Which examples does the author give?", "What advice does the author give?",
                            "Summarise the text in one sentence."]

    /// Essay tokens one example needs from its offset.
    var tokensNeeded: Int {
        max((chunkCounts.max() ?? 1) * width, (continuationCounts.max() ?? 1) * continuationWidth + 16 + continuationTokens)
    }

    /// The examples: offsets drawn uniformly over the essays from the seed, chunk counts and
    /// questions cycled, pass keys at evenly spread depths.
    func workList(essayTokens: Int) -> [ClaimExample] {
        var rng = SplitMix64(seed: seed)
        let room = max(1, essayTokens - tokensNeeded)
        return (0..<examples).map { i in
            ClaimExample(index: i, offset: Int(rng.next() % UInt64(room)), chunks: chunkCounts[i % chunkCounts.count],
                         question: Self.questions[i % Self.questions.count],
                         passkeyDepth: Double(i % 5) / 4, passkeySeed: seed &+ UInt64(i))
        }
    }

    /// Estimated cost of an example for sharding: tokens prefilled, all runs together.
    func cost(_ e: ClaimExample) -> Double {
        Double(10 * e.chunks * width + 8 * passkeyTokens + continuationCounts.reduce(0, +) * continuationWidth)
    }
}

/// One finished example: its numbers per claim, and the arrays the figures average.
struct ExampleRow: Codable, Sendable {
    var example: ClaimExample
    var claims: [String: [String: Double]]
    var arrays: [String: [Double]]
    var seconds: Double
}
