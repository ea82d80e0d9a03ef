import Foundation
import PCInference

/// One parallel-attention run over the default essays, with the observers the claims need.
/// All chunks are kept, so global attention covers every chunk.
struct ClaimRun {
    let chunks: Int, width: Int, keepFirst: Bool
    let S: Int, R: Int
    let layers: Int, heads: Int
    /// Keys of the combined cache (chunks only) and question length.
    var keys = 0, questionLength = 0
    var globalBand: [Float] = [], localBand: [Float] = [], globalProfile: [Float] = [], bins = 16
    var globalEntropy: [Float] = [], keyScores: [Float] = [], keyCount = 0
    var spans: [Range<Int>] = []
    var distance: [Float] = [], maxDistance = 0
    var above: [[Float]] = [], top1: [Float] = []

    init(chunks: Int, width: Int, keepFirst: Bool, S: Int, R: Int, layers: Int, heads: Int) {
        self.chunks = chunks; self.width = width; self.keepFirst = keepFirst; self.S = S; self.R = R
        self.layers = layers; self.heads = heads
    }

    /// Run it: `docIDs` are the essays' tokens; chunk c holds prefix + docIDs[c*width ..< (c+1)*width].
    mutating func run(model: LlamaModel, tok: Tokenizer, docIDs: [Int], concentration: Bool, distance maxD: Int) throws {
        let format = PromptFormat.forTokenizer(tok)
        let prefix = format.prefixIDs(tok)
        let q = format.questionIDs(tok, question: "What are these essays about?")
        let ids = (0..<chunks).map { c in prefix + docIDs[(c * width)..<((c + 1) * width)] }
        var config = ParallelCompConfig()
        config.keepChunks = chunks; config.keepEveryChunkFirstToken = keepFirst; config.maxNewTokens = 1
        let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: format)
        let L = layers, H = heads
        let gBand = BandMassObserver(stage: .global, rows: .queryAll, sinkWidth: S, recentWidth: R, layers: L, heads: H, chunks: chunks)
        let lBand = BandMassObserver(stage: .local, rows: .queryAll, sinkWidth: S, recentWidth: R, layers: L, heads: H, chunks: chunks)
        let prof = PositionProfileObserver(stage: .global, rows: .queryAll, bins: bins, layers: L, heads: H, chunks: chunks)
        let stats = RowStatsObserver(stage: .global, rows: .queryAll, layers: L, heads: H, chunks: chunks)
        let keyObs = KeyScoreObserver(stage: .global, lastRows: 8, layers: L, heads: H)
        var obs: [AttentionObserver] = [gBand, lBand, prof, stats, keyObs]
        let conc = concentration ? ConcentrationObserver(stage: .local, layers: L, heads: H) : nil
        let dist = maxD > 0 ? DistanceProfileObserver(stage: .local, maxDistance: maxD, skipSink: S, layers: L, heads: H) : nil
        if let conc { obs.append(conc) }
        if let dist { obs.append(dist) }
        let r = try pc.run(try .init(chunkTokenIDs: ids, questionIDs: q), observers: obs, generate: false,
                           cancelled: { Signals.isInterrupted })
        keys = r.combinedKeys; questionLength = q.count; spans = r.combinedSpans
        globalBand = gBand.bandMass(); localBand = lBand.bandMass(); globalProfile = prof.profile()
        globalEntropy = stats.means().entropy
        keyScores = keyObs.scores; keyCount = keyObs.keyCount
        if let conc { (above, top1) = conc.means() }
        if let dist { distance = dist.profile(); maxDistance = maxD }
    }

    func band(_ a: [Float], _ l: Int, _ h: Int, _ c: Int, _ b: Int) -> Double { Double(a[((l * heads + h) * chunks + c) * 3 + b]) }
}
