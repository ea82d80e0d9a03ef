import Foundation
import PCInference

/// The lines `eval --json` prints: one `EvalRow` per example and method, then one `EvalSummary`.
/// Sorted keys, so the same results give the same bytes (sharded parts merge byte for byte).
struct EvalRow: Codable, Equatable {
    var task: RetrievalTask, method: Eval.Method, length: Int, depth: Double, seed: Int
    var answer: String, expected: String, correct: Bool
    var keptChunks: [Int]
    var seconds: Double
    // What ParallelComp did with the example (absent for truncate and full).
    var keptChunkNLL: [Double]?
    var needleChunk: Int?, needleChunkNLL: Double?, needleOffset: Int?, needleChunkTokens: Int?, needleSplit: Bool?
    var answerNLL: Double?, needleMass: Double?
    var chunks: Int?, chunksReused: Int?
    /// Stored KV bytes of the context in the cache the question read (float32).
    var kvBytes: Double?

    enum CodingKeys: String, CodingKey {
        case task, method, length, depth, seed, answer, expected, correct, keptChunks = "kept_chunks", seconds
        case keptChunkNLL = "kept_chunk_nll", needleChunk = "needle_chunk", needleChunkNLL = "needle_chunk_nll"
        case needleOffset = "needle_offset", needleChunkTokens = "needle_chunk_tokens", needleSplit = "needle_split"
        case answerNLL = "answer_nll", needleMass = "needle_mass", chunks, chunksReused = "chunks_reused", kvBytes = "kv_bytes"
    }

    /// Adds what the ParallelComp run measured (the row's own answer, kept chunks and time stay).
    mutating func add(_ o: RetrievalOutcome) {
        keptChunkNLL = o.keptNLL; needleChunk = o.needleChunk; needleChunkNLL = o.needleChunkNLL
        needleOffset = o.needleOffset; needleChunkTokens = o.needleChunkTokens; needleSplit = o.needleSplit
        answerNLL = o.answerNLL; needleMass = o.needleMass; chunks = o.chunkCount; chunksReused = o.chunksReused
        kvBytes = o.kvBytes
    }
}

struct EvalSummary: Codable {
    struct Cell: Codable {
        var method: Eval.Method, length: Int, correct: Int, total: Int, accuracy: Double
        /// Mean teacher-forced answer NLL over the rows that measured it (nil: none did).
        var meanAnswerNLL: Double?
        enum CodingKeys: String, CodingKey { case method, length, correct, total, accuracy, meanAnswerNLL = "mean_answer_nll" }
    }
    var summary: [Cell]
    var config: ParallelCompConfig
    var seconds: Double
    var peakRSSBytes: Int64
    var chunksReused: Int
    enum CodingKeys: String, CodingKey { case summary, config, seconds, peakRSSBytes = "peak_rss_bytes", chunksReused = "chunks_reused" }
}

/// The settings that define an eval's work list, recorded in every shard part's header.
struct EvalSettings: Codable {
    var task: RetrievalTask, lengths: [Int], depths: [Double], seeds: Int, methods: [Eval.Method], measure: Bool
    /// `--first-seed` when not 0 (absent otherwise, so parts written before it existed still match).
    var firstSeed: Int? = nil
    var config: ParallelCompConfig
    var model: String
}


