import Foundation

/// How a forward pass runs its linear layers.
///
/// - Many rows (prefill): each weight matrix is dequantised into float32 scratch (once per layer
///   when the layer fits the scratch budget) and multiplied with OpenBLAS sgemm. The result is the
///   same as with weights expanded at load, as biasprobe did before.
/// - One row (decode), unless `DecodePath.sgemm` is chosen: the kernels of `QuantMatVec` read the
///   GGUF blocks directly, with a float32 (`.float`) or 8-bit (`.int8`) activation row.
/// - A few rows (at most `LlamaModel.fewRowsLimit`) on the `.float` path: the same kernels widen
///   each weight block once for up to 8 rows. sgemm would first expand and pack the whole matrix,
///   a cost per pass that does not shrink with the rows (docs/quantized-weights.md has the
///   crossover). Numbers differ from sgemm's by float summation order only.
struct LinearRunner {
    let workers: Int
    /// The direct-kernel arithmetic this pass uses; nil runs dequantise + sgemm.
    let direct: DecodePath?
    let scratch: DequantScratch
    /// Matrices kept expanded for the whole run (`LlamaModel.expandWeights`), if any.
    var expanded: ExpandedWeights? = nil

    /// The direct path for a pass of `rows` rows. Decided once per pass, not per row block, so
    /// a row's numbers never depend on how the pass is cut into blocks.
    static func direct(rows: Int, path: DecodePath, fewRowsLimit: Int) -> DecodePath? {
        if rows == 1 { return path == .sgemm ? nil : path }
        return path == .float && rows <= fewRowsLimit ? .float : nil
    }

    /// y_i (+)= x W_i^T for matrices that read the same input rows x [rows, cols].
    func run(_ x: UnsafePointer<Float>, rows: Int, _ items: [(Matrix, UnsafeMutablePointer<Float>)], accumulate: Bool = false) {
        if let p = direct {
            QuantMatVec.apply(x, rows: rows, items, accumulate: accumulate, int8: p == .int8, workers: workers)
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
