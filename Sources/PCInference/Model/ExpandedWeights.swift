import Foundation

/// Float32 copies of every quantized matrix, expanded once and kept (`LlamaModel.expandWeights`).
///
/// By default a prefill pass dequantises each matrix into scratch again (memory stays at one
/// layer). A run of many short passes (`biasprobe claims`: hundreds of pipeline runs of a few
/// hundred tokens) then spends a large share of its time re-expanding the same weights: the
/// expansion costs as much as the arithmetic of a few dozen rows. These copies are made by the
/// same dequantiser and read by the same sgemm calls, so every number is unchanged; the cost is
/// memory (4 bytes per weight: 0.54 GB for SmolLM2-135M, 1.07 GB for Gemma 3 270M).
public final class ExpandedWeights: @unchecked Sendable {
    private var table: [UnsafeRawPointer: UnsafeMutablePointer<Float>] = [:]
    public private(set) var bytes = 0

    init(_ matrices: [Matrix], workers: Int) {
        for w in matrices where w.floats == nil && table[w.raw] == nil {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: w.elementCount)
            let out = SharedPointer(p)
            let n = max(1, min(workers, w.rows / 64))
            WorkerPool.run(n) { i in
                let r0 = w.rows * i / n, r1 = w.rows * (i + 1) / n
                w.dequantize(rows: r0, r1, into: out.p + r0 * w.cols)
            }
            table[w.raw] = p
            bytes += w.elementCount * 4
        }
    }
    deinit { for p in table.values { p.deallocate() } }

    /// The matrix's float32 copy, nil when it has none (stored as float32, or not expanded).
    func floats(_ w: Matrix) -> UnsafePointer<Float>? { table[w.raw].map { UnsafePointer($0) } }
}

extension LlamaModel {
    /// Keep every quantized matrix expanded to float32 from now on (see `ExpandedWeights`).
    /// Call before running passes; not while one runs.
    public func expandWeights() {
        guard expanded == nil else { return }
        var all: [Matrix] = weights.blocks.flatMap { [$0.attn_q, $0.attn_k, $0.attn_v, $0.attn_output, $0.ffn_gate, $0.ffn_up, $0.ffn_down] }
        all.append(weights.output ?? weights.token_embd.matrix)
        expanded = ExpandedWeights(all, workers: threads)
    }
}
