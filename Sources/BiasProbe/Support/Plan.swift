import Foundation
import PCInference

/// The plan line printed on stderr before long work: what will run, and an estimate of its time
/// from the work's FLOP count at 80 % of an sgemm rate measured in a few milliseconds at start-up
/// (prefill reaches 77-87 % of it here; docs/quantized-weights.md). Chunks a run skips because an
/// identical one was scored already make the estimate an upper bound.
enum Plan {
    /// A quick sgemm rate (GFLOP/s) in the model's shapes: two repetitions, best of two.
    static func quickRate(_ c: ModelConfig, threads: Int) -> Double {
        SgemmProbe.measure(m: 256, n: c.feedForwardLength, k: c.embeddingLength, threads: threads, reps: 2, best: 2)
    }

    /// Seconds for prefills of the given lengths (one pass each) at 80 % of `rate`.
    static func seconds(_ c: ModelConfig, passes: [Int], rate: Double) -> Double {
        passes.reduce(0.0) { $0 + FlopCount.prefill(c, tokens: $1) } / (0.8 * rate * 1e9)
    }

    static func duration(_ s: Double) -> String {
        s < 90 ? String(format: "%.0f s", s) : s < 5400 ? String(format: "%.0f min", s / 60) : String(format: "%.1f h", s / 3600)
    }

    /// The plan of one ParallelComp run: its chunk passes, the question, the answer budget.
    static func run(_ pc: ParallelCompPipeline, _ prep: ParallelCompPipeline.Prepared) -> String {
        let c = pc.model.config, m = prep.questionIDs.count + 1
        let rate = quickRate(c, threads: pc.model.threads)
        let passes = prep.chunks.map { $0.contextLength + m } + [m]
        let tokens = passes.reduce(0, +)
        return String(format: "plan: %d chunks of up to %d tokens (%d document tokens, split by %@), keep %d, question %d tokens, up to %d new; %d tokens to prefill, about %@ at most (sgemm %.0f GFLOP/s now)",
                      prep.chunks.count, prep.chunks.map(\.contextLength).max() ?? 0, prep.documentTokenCount, pc.config.splitBy.rawValue,
                      min(pc.config.keepChunks, prep.chunks.count), m, pc.config.maxNewTokens, tokens,
                      duration(seconds(c, passes: passes, rate: rate)), rate)
    }
}
