import CQuant

/// One-row linear layers straight from the quantized weights (decode).
///
/// The input row is quantized once to 8 bits per block (per activation format it is needed in)
/// and each weight row is dotted with it in integer arithmetic by the CQuant kernels (AVX-512
/// VNNI or AVX2, chosen at run time). This adds the activation's rounding error, at most half a
/// step of max|x|/127 per element of each 32- or 256-element block; see docs/quantized-weights.md.
public enum QuantMatVec {
    /// The kernel family in use, e.g. "avx2".
    public static var kernelName: String { String(cString: cq_kernel_name(cq_kernel())) }
    /// Restricts the kernel family (tests, benchmarks): 0 = dequantize + float dot, 1 = AVX2,
    /// 2 = AVX-512 VNNI; capped at what the CPU has. Returns the family now in use.
    @discardableResult public static func useKernel(_ k: Int) -> Int { Int(cq_use_kernel(Int32(k))) }
    public static var detectedKernel: Int { Int(cq_detect_kernel()) }

    /// One dot product of a weight row stored as `type` (whole blocks in `raw`) with x, through
    /// the kernel family in use. For tests and tools; the model calls `apply`.
    public static func rowDot(type: GGMLType, raw: UnsafeRawBufferPointer, x: [Float]) -> Float {
        let w = Matrix(rows: 1, cols: x.count, type: type, raw: raw.baseAddress!)
        precondition(raw.count >= w.rowBytes, "rowDot: \(raw.count) bytes hold less than one row")
        var y: Float = 0
        x.withUnsafeBufferPointer { xb in
            let act = Activation(xb.baseAddress!, n: x.count)
            rows(w, 0, 1, act: act, encoded: act.encoding(for: type), into: &y, accumulate: false)
        }
        return y
    }

    /// An input row encoded for every activation format the given matrices need.
    final class Activation: @unchecked Sendable {
        private var encoded: [Int32: UnsafeMutableRawPointer] = [:]
        let x: UnsafePointer<Float>, n: Int
        init(_ x: UnsafePointer<Float>, n: Int) { self.x = x; self.n = n }
        deinit { encoded.values.forEach { $0.deallocate() } }

        func encoding(for type: GGMLType) -> UnsafeRawPointer {
            let kind = cq_activation_kind(type.rawValue)
            if let e = encoded[kind] { return UnsafeRawPointer(e) }
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(cq_activation_bytes(kind, Int32(n)), 4), alignment: 64)
            cq_quantize_activation(kind, x, Int32(n), p)
            encoded[kind] = p
            return UnsafeRawPointer(p)
        }
    }

    /// y[r0..<r1] (+)= W[r0..<r1] x. Falls back to dequantize + float dot where no SIMD kernel runs.
    static func rows(_ w: Matrix, _ r0: Int, _ r1: Int, act: Activation, encoded: UnsafeRawPointer,
                     into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        guard r1 > r0 else { return }
        if cq_matvec(w.type.rawValue, Int32(w.cols), w.raw, w.rowBytes, Int32(r0), Int32(r1), encoded, y, accumulate ? 1 : 0) == 0 { return }
        let row = UnsafeMutablePointer<Float>.allocate(capacity: w.cols); defer { row.deallocate() }
        for r in r0..<r1 {
            w.dequantize(rows: r, r + 1, into: row)
            var v: Float = 0
            for j in 0..<w.cols { v += row[j] * act.x[j] }
            y[r] = accumulate ? y[r] + v : v
        }
    }

    /// y_i (+)= W_i x for several matrices reading the same row x (q/k/v, gate/up), split by
    /// output rows across `workers` in one parallel region.
    static func apply(_ x: UnsafePointer<Float>, _ items: [(Matrix, UnsafeMutablePointer<Float>)], accumulate: Bool, workers: Int) {
        guard let n = items.first?.0.cols else { return }
        let act = Activation(x, n: n)
        let work = items.map { (w: $0.0, y: SharedPointer($0.1), enc: SharedPointer(act.encoding(for: $0.0.type).assumingMemoryBound(to: UInt8.self))) }
        let total = items.reduce(0) { $0 + $1.0.rows }
        let nw = total < 256 ? 1 : workers
        withExtendedLifetime(act) {
            parallelWorkers(nw) { i in
                for it in work {
                    let r0 = it.w.rows * i / nw, r1 = it.w.rows * (i + 1) / nw
                    rows(it.w, r0, r1, act: act, encoded: UnsafeRawPointer(it.enc.p), into: it.y.p, accumulate: accumulate)
                }
            }
        }
    }
}
