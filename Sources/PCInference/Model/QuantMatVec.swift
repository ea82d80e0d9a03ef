import CQuant

/// One-row linear layers read straight from the quantized weights (decode).
///
/// Two arithmetics (see `DecodePath`): `.float` expands each weight block to float32 in registers
/// and multiplies it with the float32 activation row (the result is dequantise-then-dot up to
/// the order of float additions); `.int8` quantizes the row to 8 bits per 32- or 256-element
/// block and uses integer dot products (AVX-512 VNNI or AVX2), adding the row's rounding error
/// (at most half a step of max|x|/127 per element); see docs/quantized-weights.md.
public enum QuantMatVec {
    /// The kernel family in use, e.g. "avx2".
    public static var kernelName: String { String(cString: cq_kernel_name(cq_kernel())) }
    /// Restricts the kernel family (tests, benchmarks): 0 = dequantize + float dot in Swift,
    /// 1 = AVX2, 2 = AVX-512 VNNI; capped at what the CPU has. Returns the family now in use.
    @discardableResult public static func useKernel(_ k: Int) -> Int { Int(cq_use_kernel(Int32(k))) }
    public static var detectedKernel: Int { Int(cq_detect_kernel()) }

    static func mode(_ int8: Bool) -> Int32 { int8 ? Int32(CQ_MODE_INT8) : Int32(CQ_MODE_FLOAT) }

    /// An input row, encoded on demand for every activation format the matrices need.
    final class Activation: @unchecked Sendable {
        private var encoded: [Int32: UnsafeMutableRawPointer] = [:]
        let x: UnsafePointer<Float>, n: Int, int8: Bool
        init(_ x: UnsafePointer<Float>, n: Int, int8: Bool) { self.x = x; self.n = n; self.int8 = int8 }
        deinit { encoded.values.forEach { $0.deallocate() } }

        func encoding(for type: GGMLType) -> UnsafeRawPointer {
            let kind = cq_activation_kind(type.rawValue, mode(int8))
            if let e = encoded[kind] { return UnsafeRawPointer(e) }
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(cq_activation_bytes(kind, Int32(n)), 4), alignment: 64)
            cq_quantize_activation(kind, x, Int32(n), p)
            encoded[kind] = p
            return UnsafeRawPointer(p)
        }
    }

    /// One dot product of a weight row stored as `type` (whole blocks in `raw`) with x, through
    /// the kernel family in use. For tests and tools; the model calls `apply`.
    public static func rowDot(type: GGMLType, raw: UnsafeRawBufferPointer, x: [Float], int8: Bool) -> Float {
        matVec(type: type, raw: raw, rows: 1, x: x, int8: int8)[0]
    }

    /// W x for `rows` rows stored back to back in `raw`. For tests and tools.
    public static func matVec(type: GGMLType, raw: UnsafeRawBufferPointer, rows n: Int, x: [Float], int8: Bool) -> [Float] {
        let w = Matrix(rows: n, cols: x.count, type: type, raw: raw.baseAddress!)
        precondition(raw.count >= w.byteCount, "matVec: \(raw.count) bytes hold less than \(n) rows")
        var y = [Float](repeating: 0, count: n)
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                let act = Activation(xb.baseAddress!, n: x.count, int8: int8)
                rows(w, 0, n, act: act, encoded: act.encoding(for: type), into: yb.baseAddress!, accumulate: false)
            }
        }
        return y
    }

    /// y[r0..<r1] (+)= W[r0..<r1] x. Falls back to dequantize + float dot where no SIMD kernel runs.
    static func rows(_ w: Matrix, _ r0: Int, _ r1: Int, act: Activation, encoded: UnsafeRawPointer,
                     into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        guard r1 > r0 else { return }
        if cq_matvec(w.type.rawValue, mode(act.int8), Int32(w.cols), w.raw, w.rowBytes, Int32(r0), Int32(r1), encoded, y, accumulate ? 1 : 0) == 0 { return }
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
    static func apply(_ x: UnsafePointer<Float>, _ items: [(Matrix, UnsafeMutablePointer<Float>)], accumulate: Bool,
                      int8: Bool, workers: Int) {
        guard let n = items.first?.0.cols else { return }
        let act = Activation(x, n: n, int8: int8)
        let work = items.map { (w: $0.0, y: SharedPointer($0.1), enc: SharedPointer(act.encoding(for: $0.0.type).assumingMemoryBound(to: UInt8.self))) }
        let total = items.reduce(0) { $0 + $1.0.rows }
        let nw = total < 256 ? 1 : workers
        withExtendedLifetime(act) {
            WorkerPool.run(nw) { i in
                for it in work {
                    // Split on multiples of 4 rows: the kernels work on 4 rows at a time.
                    let r0 = it.w.rows * i / nw / 4 * 4, r1 = i == nw - 1 ? it.w.rows : it.w.rows * (i + 1) / nw / 4 * 4
                    rows(it.w, r0, r1, act: act, encoded: UnsafeRawPointer(it.enc.p), into: it.y.p, accumulate: accumulate)
                }
            }
        }
    }
}
