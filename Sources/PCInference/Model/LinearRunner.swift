import Foundation

/// How a forward pass runs its linear layers.
///
/// - Several rows (prefill): each weight matrix is dequantised into float32 scratch (once per
///   layer when the layer fits the scratch budget) and multiplied with OpenBLAS sgemm. The result
///   is the same as with weights expanded at load, as biasprobe did before.
/// - One row (decode) with `DecodePath.quantized`: the quantized dot kernels read the GGUF blocks
///   directly (`QuantMatVec`), adding the 8-bit rounding of the activation row.
struct LinearRunner {
    let workers: Int
    let quantizedRow: Bool
    let scratch: DequantScratch

    /// y_i (+)= x W_i^T for matrices that read the same input rows x [rows, cols].
    func run(_ x: UnsafePointer<Float>, rows: Int, _ items: [(Matrix, UnsafeMutablePointer<Float>)], accumulate: Bool = false) {
        if quantizedRow && rows == 1 {
            QuantMatVec.apply(x, items, accumulate: accumulate, workers: workers)
            return
        }
        for (w, y) in items {
            let f = scratch.floats(w, workers: workers)
            BLAS.parallelLinear(x, rows: rows, inDim: w.cols, f, outDim: w.rows, into: y, accumulate: accumulate, workers: workers)
        }
    }
}

/// Which arithmetic a one-row (decode) pass uses for its linear layers.
public enum DecodePath: String, Sendable, CaseIterable {
    /// Integer dot products on the quantized weights and an 8-bit activation row (fast).
    case quantized
    /// Dequantise + sgemm, exactly as a prefill row is computed (slow; the reference).
    case float

    /// The default: `BIASPROBE_DECODE_PATH` when set to a valid name, else quantized.
    public static var fromEnvironment: DecodePath {
        getenv("BIASPROBE_DECODE_PATH").flatMap { DecodePath(rawValue: String(cString: $0)) } ?? .quantized
    }
}
