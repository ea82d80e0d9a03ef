import ArgumentParser
import Foundation
import PCInference
import ProbeAnalysis

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure speed: prefill against the sgemm rate, decode tokens/s, and the cost of attention observers.",
        subcommands: [BenchPrefill.self, BenchDecode.self, BenchRows.self, BenchAttention.self, BenchEvictionLab.self])
}

/// Floating-point work of a prefill, counted the usual way (2 FLOP per multiply-add).
enum FlopCount {
    static func linearPerToken(_ c: ModelConfig) -> Double {
        let perLayer = c.embeddingLength * c.qDim + 2 * c.embeddingLength * c.kvDim + c.qDim * c.embeddingLength + 3 * c.embeddingLength * c.feedForwardLength
        return 2 * Double(perLayer) * Double(c.layerCount)
    }
    /// QK^T and PV for every visible (query, key) pair of a causal prefill of T tokens; a
    /// sliding-window layer sees at most `window` keys per row.
    static func attention(_ c: ModelConfig, tokens T: Int) -> Double {
        let pairs = (0..<c.layerCount).reduce(0.0) { sum, l in
            guard let w = c.attentionWindow(layer: l), w < T else { return sum + Double(T) * Double(T + 1) / 2 }
            return sum + Double(w) * Double(w + 1) / 2 + Double(T - w) * Double(w)
        }
        return 4 * Double(c.headDim * c.headCount) * pairs
    }
    static func prefill(_ c: ModelConfig, tokens T: Int) -> Double {
        linearPerToken(c) * Double(T) + attention(c, tokens: T) + 2 * Double(c.embeddingLength * c.vocabSize)
    }
}

/// Tokens to benchmark with: the default essays when present, else a repeated sentence.
func benchTokens(_ tok: Tokenizer, count: Int) -> [Int] {
    let text = (try? DefaultCorpus.essays()) ?? String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 2000)
    var ids = tok.encode(String(text.prefix(count * 8)), parseSpecial: false, addBOS: false)
    while ids.count < count { ids += ids }
    return Array(ids.prefix(count))
}

/// Best-of-n wall time of `body`.
func bestTime(_ n: Int, _ body: () throws -> Void) rethrows -> Double {
    var best = Double.infinity
    for _ in 0..<max(1, n) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    return best
}

struct BenchPrefill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prefill",
        abstract: "Prefill throughput at several lengths, as a share of the sgemm rate measured in the same run.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Prompt lengths to time (default 512,2048,8192).", transform: ContextLengthList.argument) var tokens = ContextLengthList(argument: "512,2048,8192")!
    @Option(help: "Repetitions per size (best is reported).") var repeats = 3
    @Flag(help: "One JSON object per size on stdout.") var json = false

    func run() throws {
        let (model, tok, _) = try modelOptions.load()
        let c = model.config
        // The sgemm rate of a shared or frequency-scaling host drifts by +-10 % within minutes, so
        // it is probed again after each prompt length and each length is set against the mean of
        // the probes on either side of it (both printed).
        let probe = { SgemmProbe.measure(m: 1024, n: c.feedForwardLength, k: c.embeddingLength, threads: model.threads) }
        var gemm = probe()
        if !json { print(String(format: "BLAS %@, %d threads: sgemm [1024x%d]x[%dx%d] %.1f GFLOP/s (probed again after each length)", BLAS.coreName, model.threads, c.embeddingLength, c.embeddingLength, c.feedForwardLength, gemm)) }
        let runs = tokens.values.map(\.tokens).flatMap { T in Array(repeating: T, count: T >= 8192 ? min(repeats, 2) : repeats) }
        Log.info("plan: prefill \(tokens.values.map { String($0.tokens) }.joined(separator: ", ")) tokens, \(repeats) repetitions each (2 at 8,192 and more); about \(Plan.duration(Plan.seconds(c, passes: runs, rate: gemm)))")
        for T in tokens.values.map(\.tokens) {
            let ids = benchTokens(tok, count: T)
            let secs = try bestTime(T >= 8192 ? min(repeats, 2) : repeats) {
                try model.forward(tokens: ids, positions: Array(0..<T), cache: model.makeCache(), logitRows: [T - 1])
            }
            let flops = FlopCount.prefill(c, tokens: T)
            let gf = flops / secs / 1e9
            let after = probe(), rate = (gemm + after) / 2
            if json {
                try JSONOut.emit(PrefillBenchRow(tokens: T, seconds: secs, tokensPerSecond: Double(T) / secs, gflops: gf, sgemmGFLOPS: rate,
                                                 sgemmGFLOPSProbes: [gemm, after], shareOfSgemm: gf / rate, blasKernel: BLAS.coreName, threads: model.threads))
            }
            else { print(String(format: "%6d tokens: %7.3f s  %8.0f tok/s  %6.1f GFLOP/s  = %3.0f%% of sgemm (%.1f-%.1f GFLOP/s before-after)", T, secs, Double(T) / secs, gf, 100 * gf / rate, gemm, after)) }
            gemm = after
        }
    }
}

/// Measures cblas_sgemm on a representative shape.
enum SgemmProbe {
    static func measure(m: Int, n: Int, k: Int, threads: Int, reps: Int = 20, best: Int = 5) -> Double {
        var a = [Float](repeating: 0, count: m * k), b = [Float](repeating: 0, count: n * k), cc = [Float](repeating: 0, count: m * n)
        for i in a.indices { a[i] = Float(i % 13) * 0.01 }
        for i in b.indices { b[i] = Float(i % 7) * 0.01 }
        // OpenBLAS's own threading on one big GEMM: the rate to compare against. The model runs
        // OpenBLAS single-threaded inside its own workers, so restore that afterwards.
        BLAS.threads = threads
        defer { BLAS.threads = 1 }
        let secs = bestTime(best) {
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in cc.withUnsafeMutableBufferPointer { cp in
                for _ in 0..<reps {
                    BLAS.gemm(m: m, n: n, k: k, a: ap.baseAddress!, lda: k, b: bp.baseAddress!, ldb: k, bTransposed: true, c: cp.baseAddress!, ldc: n)
                }
            } } }
        }
        return 2 * Double(m * n * k) * Double(reps) / secs / 1e9
    }
}

struct BenchAttention: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "Prefill time with no observer and with every observer attached, side by side.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Prompt length (default 8192).", transform: ContextLength.argument) var tokens = ContextLength(argument: "8192")!
    @Option(help: "Alternating repetitions (best of each is reported).") var repeats = 2
    @Flag(help: "JSON on stdout.") var json = false

    func run() throws {
        let (model, tok, _) = try modelOptions.load()
        let c = model.config, T = tokens.tokens
        let ids = benchTokens(tok, count: T)
        // One chunk of T - 64 context tokens followed by 64 query rows.
        let q = min(64, T / 2)
        let scope = ObservationScope(stage: .local, chunkSpans: [0..<(T - q)], chunkIDs: [0], queryKeyStart: T - q,
                                     queryRowStart: T - q, queryRowCount: q, firstRowKey: 0)
        func observers() -> [AttentionObserver] {
            let L = c.layerCount, H = c.headCount
            return [BandMassObserver(stage: .local, rows: .context, layers: L, heads: H, chunks: 1),
                    BandMassObserver(stage: .local, rows: .context, binning: .relative, layers: L, heads: H, chunks: 1),
                    BandMassObserver(stage: .local, rows: .queryAll, layers: L, heads: H, chunks: 1),
                    BandMassObserver(stage: .local, rows: .queryLast(8), layers: L, heads: H, chunks: 1),
                    PositionProfileObserver(stage: .local, rows: .context, layers: L, heads: H, chunks: 1),
                    PositionProfileObserver(stage: .local, rows: .queryAll, layers: L, heads: H, chunks: 1),
                    RowStatsObserver(stage: .local, rows: .context, layers: L, heads: H, chunks: 1),
                    RowStatsObserver(stage: .local, rows: .queryAll, layers: L, heads: H, chunks: 1),
                    KeyScoreObserver(stage: .local, lastRows: 8, layers: L, heads: H)]
        }
        var none = Double.infinity, all = Double.infinity
        for _ in 0..<max(1, repeats) {
            none = min(none, try bestTime(1) { try model.forward(tokens: ids, positions: Array(0..<T), cache: model.makeCache(), logitRows: [T - 1]) })
            let obs = observers()
            all = min(all, try bestTime(1) {
                try model.forward(tokens: ids, positions: Array(0..<T), cache: model.makeCache(), logitRows: [T - 1], observers: obs, scope: scope)
            })
        }
        let overhead = all / none - 1
        if json {
            try JSONOut.emit(ObserverBenchRow(tokens: T, secondsNoObserver: none, secondsAllObservers: all, overhead: overhead,
                                              observers: observers().count, blasKernel: BLAS.coreName, threads: model.threads))
        }
        else { print(String(format: "%d-token prefill: %.2f s without observers, %.2f s with all %d observers: overhead %.1f%%", T, none, all, observers().count, 100 * overhead)) }
    }
}

/// `bench prefill --json`: one line per prompt length.
struct PrefillBenchRow: Encodable {
    /// sgemmGFLOPS is the mean of the probes just before and just after this length.
    var tokens: Int, seconds: Double, tokensPerSecond: Double, gflops: Double, sgemmGFLOPS: Double, sgemmGFLOPSProbes: [Double], shareOfSgemm: Double
    var blasKernel: String, threads: Int
    enum CodingKeys: String, CodingKey {
        case tokens, seconds, tokensPerSecond = "tokens_per_second", gflops, sgemmGFLOPS = "sgemm_gflops", sgemmGFLOPSProbes = "sgemm_gflops_probes"
        case shareOfSgemm = "share_of_sgemm"
        case blasKernel = "blas_kernel", threads
    }
}

/// `bench observers --json`.
struct ObserverBenchRow: Encodable {
    var tokens: Int, secondsNoObserver: Double, secondsAllObservers: Double, overhead: Double, observers: Int
    var blasKernel: String, threads: Int
    enum CodingKeys: String, CodingKey {
        case tokens, secondsNoObserver = "seconds_no_observer", secondsAllObservers = "seconds_all_observers", overhead, observers
        case blasKernel = "blas_kernel", threads
    }
}
