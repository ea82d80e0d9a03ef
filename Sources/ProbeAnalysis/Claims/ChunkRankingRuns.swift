import Foundation
import PCInference

/// T17: where the pipeline's chunk ranking puts the chunk that holds a pass-key needle.
public struct ChunkRankingRuns: Sendable {
    /// Chunk count -> rank of the needle's chunk among them (0 = lowest question NLL; other
    /// chunks of equal NLL count as better).
    public var needleRank: [Int: Int] = [:]
    public init() {}
}

/// One pipeline run scores `maxCount` short essay chunks, one holding the needle. A chunk's score
/// is the question's NLL given that chunk alone (its own prefill from position 0; no other chunk
/// is visible), so the ranking among any C of them is the ranking those C would get in a run of
/// their own: the smaller counts are read from windows of C consecutive chunks around the needle.
public struct ChunkRankingRunner {
    public let model: LlamaModel
    public let tok: Tokenizer
    public let settings: ClaimSettings
    public let doc: [Int]

    public func run(_ ex: ClaimExample) throws -> ChunkRankingRuns {
        let w = settings.rankingWidth, counts = settings.rankingCounts, N = counts.max() ?? 1
        var rng = SplitMix64(seed: ex.passkeySeed &* 0x9E37_79B9_7F4A_7C15 &+ 17)
        let key = String(10000 + Int(rng.next() % 90000))
        let needle = tok.encode(" The pass key is \(key). Remember it. \(key) is the pass key.", parseSpecial: false, addBOS: false)
        guard needle.count < w else { throw AnalysisError("the T17 chunk width \(w) cannot hold the \(needle.count)-token needle") }
        let format = ClaimPrompt.format(tok, settings.promptLayout), prefix = format.leadIDs(tok)
        // Essay tokens from the example's offset, wrapping at the end (the other runs' tokens are untouched).
        func essay(_ i: Int) -> Int { doc[(ex.offset + i) % doc.count] }
        let target = Int(rng.next() % UInt64(N))
        let at = Int(rng.next() % UInt64(w - needle.count + 1))
        let chunks: [[Int]] = (0..<N).map { c in
            var t = (0..<w).map { essay(c * w + $0) }
            if c == target { t = Array(t[0..<at]) + needle + Array(t[at..<(w - needle.count)]) }
            return prefix + t
        }
        var cfg = ParallelCompConfig()
        cfg.keepChunks = 1; cfg.maxNewTokens = 1
        cfg.batchChunks = 8   // throughput mode: 8 short chunks per pass, the same scores
        let q = format.questionIDs(tok, question: "What is the pass key?")
        let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: cfg, format: format)
        let r = try pc.run(try .init(chunkTokenIDs: chunks, questionIDs: q), generate: false, cancelled: { Signals.isInterrupted })
        let nll = r.chunks.map { $0.nll ?? .nan }
        var out = ChunkRankingRuns()
        for C in counts {
            // A window of C chunks holding the needle at a seeded place.
            let lo = max(0, min(N - C, target - Int(rng.next() % UInt64(C))))
            out.needleRank[C] = Self.rank(of: target, among: Array(lo..<(lo + C)), nll: nll)
        }
        return out
    }

    /// How many of `window`'s other chunks score at least as well (NLL <=) as chunk `i`.
    public static func rank(of i: Int, among window: [Int], nll: [Double]) -> Int {
        window.filter { $0 != i && !(nll[$0] > nll[i]) }.count
    }
}
