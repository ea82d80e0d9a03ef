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

    /// Input rows, encoded on demand for every activation format the matrices need; several rows
    /// (float mode only) are encoded back to back, `stride` floats apart.
    final class Activation: @unchecked Sendable {
        private var encoded: [Int32: UnsafeMutableRawPointer] = [:]
        let x: UnsafePointer<Float>, n: Int, count: Int, int8: Bool
        init(_ x: UnsafePointer<Float>, n: Int, count: Int = 1, int8: Bool) {
            precondition(count == 1 || !int8, "several activation rows are encoded in float mode only")
            self.x = x; self.n = n; self.count = count; self.int8 = int8
        }
        deinit { encoded.values.forEach { $0.deallocate() } }

        /// Floats from one encoded row to the next (float mode: the row, then its 32-element sums).
        func stride(for type: GGMLType) -> Int { cq_activation_bytes(cq_activation_kind(type.rawValue, mode(int8)), Int32(n)) / 4 }

        func encoding(for type: GGMLType) -> UnsafeRawPointer {
            let kind = cq_activation_kind(type.rawValue, mode(int8))
            if let e = encoded[kind] { return UnsafeRawPointer(e) }
            let bytes = cq_activation_bytes(kind, Int32(n))
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes * count, 4), alignment: 64)
            for j in 0..<count { cq_quantize_activation(kind, x + j * n, Int32(n), p + j * bytes) }
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

    /// Y = X W^T for `xRows` activation rows X [xRows, cols] through the few-rows float kernel;
    /// Y is [xRows, rows]. For tests and tools.
    public static func matMul(type: GGMLType, raw: UnsafeRawBufferPointer, rows n: Int, x: [Float], xRows: Int) -> [Float] {
        precondition(xRows > 0 && x.count % xRows == 0, "matMul: \(x.count) values do not make \(xRows) rows")
        let w = Matrix(rows: n, cols: x.count / xRows, type: type, raw: raw.baseAddress!)
        precondition(raw.count >= w.byteCount, "matMul: \(raw.count) bytes hold less than \(n) rows")
        var y = [Float](repeating: 0, count: n * xRows)
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                let act = Activation(xb.baseAddress!, n: w.cols, count: xRows, int8: false)
                manyRows(w, 0, n, act: act, encoded: act.encoding(for: type), into: yb.baseAddress!, accumulate: false)
            }
        }
        return y
    }

    /// Y[j, r0..<r1] (+)= W[r0..<r1] x_j for every row j of `act` (float mode); Y rows are w.rows
    /// apart. The fallback dequantises each weight row once and takes the one-row fallback's dot
    /// with every activation row, so both paths keep the one-row numbers bit for bit.
    static func manyRows(_ w: Matrix, _ r0: Int, _ r1: Int, act: Activation, encoded: UnsafeRawPointer,
                         into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        guard r1 > r0 else { return }
        let stride = act.stride(for: w.type)
        if cq_matmul_f(w.type.rawValue, Int32(w.cols), w.raw, w.rowBytes, Int32(r0), Int32(r1), encoded.assumingMemoryBound(to: Float.self),
                       stride, Int32(act.count), y, w.rows, accumulate ? 1 : 0) == 0 { return }
        let row = UnsafeMutablePointer<Float>.allocate(capacity: w.cols); defer { row.deallocate() }
        for r in r0..<r1 {
            w.dequantize(rows: r, r + 1, into: row)
            for j in 0..<act.count {
                let xj = act.x + j * w.cols
                var v: Float = 0
                for i in 0..<w.cols { v += row[i] * xj[i] }
                y[j * w.rows + r] = accumulate ? y[j * w.rows + r] + v : v
            }
        }
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

    /// Y_i (+)= X W_i^T for several matrices reading the same rows X [rows, cols] (q/k/v,
    /// gate/up), split by output rows across `workers` in one parallel region. Several rows need
    /// float mode (`cq_matmul_f`).
    static func apply(_ x: UnsafePointer<Float>, rows: Int = 1, _ items: [(Matrix, UnsafeMutablePointer<Float>)], accumulate: Bool,
                      int8: Bool, workers: Int) {
        guard let n = items.first?.0.cols else { return }
        let act = Activation(x, n: n, count: rows, int8: int8)
        let work = items.map { (w: $0.0, y: SharedPointer($0.1), enc: SharedPointer(act.encoding(for: $0.0.type).assumingMemoryBound(to: UInt8.self))) }
        let total = items.reduce(0) { $0 + $1.0.rows } * rows
        let nw = total < 256 ? 1 : workers
        withExtendedLifetime(act) {
            WorkerPool.run(nw) { i in
                for it in work {
                    // Split on multiples of 4 rows: the one-row kernels work on 4 rows at a time.
                    let r0 = it.w.rows * i / nw / 4 * 4, r1 = i == nw - 1 ? it.w.rows : it.w.rows * (i + 1) / nw / 4 * 4
                    if rows == 1 {
                        self.rows(it.w, r0, r1, act: act, encoded: UnsafeRawPointer(it.enc.p), into: it.y.p, accumulate: accumulate)
                    } else {
                        manyRows(it.w, r0, r1, act: act, encoded: UnsafeRawPointer(it.enc.p), into: it.y.p, accumulate: accumulate)
                    }
                }
            }
        }
    }
}
