import Foundation

/// How a forward pass runs its linear layers.
///
/// - Several rows (prefill): each weight matrix is dequantised into float32 scratch (once per
///   layer when the layer fits the scratch budget) and multiplied with OpenBLAS sgemm. The result
///   is the same as with weights expanded at load, as biasprobe did before.
/// - One row (decode), unless `DecodePath.sgemm` is chosen: the kernels of `QuantMatVec` read the
///   GGUF blocks directly, with a float32 (`.float`) or 8-bit (`.int8`) activation row.
struct LinearRunner {
    let workers: Int
    /// How a one-row pass runs; nil when the pass has several rows.
    let rowPath: DecodePath?
    let scratch: DequantScratch
    /// Matrices kept expanded for the whole run (`LlamaModel.expandWeights`), if any.
    var expanded: ExpandedWeights? = nil

    /// y_i (+)= x W_i^T for matrices that read the same input rows x [rows, cols].
    func run(_ x: UnsafePointer<Float>, rows: Int, _ items: [(Matrix, UnsafeMutablePointer<Float>)], accumulate: Bool = false) {
        if rows == 1, let p = rowPath, p != .sgemm {
            QuantMatVec.apply(x, items, accumulate: accumulate, int8: p == .int8, workers: workers)
            return
        }
        for (w, y) in items {
            let f = expanded?.floats(w) ?? scratch.floats(w, workers: workers)
            BLAS.parallelLinear(x, rows: rows, inDim: w.cols, f, outDim: w.rows, into: y, accumulate: accumulate, workers: workers)
        }
    }
}

/// Which arithmetic a one-row (decode) pass uses for its linear layers.
public enum DecodePath: String, Sendable, CaseIterable {
    /// Quantized weights expanded in registers times the float32 row (the default): fast, and
    /// equal to dequantise-then-dot up to float summation order, so greedy answers match the
    /// float64 reference as the prefill path does.
    case float
    /// Quantized weights times an 8-bit quantized row, integer dot products (llama.cpp's way):
    /// fewer instructions per weight, but the row's rounding changes logits by up to ~0.5 on the
    /// default model and flips some long greedy answers.
    case int8
    /// Dequantise each matrix + sgemm, exactly as a prefill row is computed (slow; a reference).
    case sgemm

    /// The path a newly loaded model starts with: float unless the program chooses another
    /// (biasprobe: `BIASPROBE_DECODE_PATH`) before loading it.
    public nonisolated(unsafe) static var standard: DecodePath = .float
}
