import CBLAS
import Foundation

/// Thin wrappers over OpenBLAS's row-major sgemm, plus the runtime facts `biasprobe info` reports.
public enum BLAS {
    /// C[m,n] = alpha * A[m,k] * op(B) + beta * C, row-major. `bTransposed`: B is stored [n,k].
    @inline(__always)
    public static func gemm(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, bTransposed: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        guard m > 0, n > 0, k > 0 else {
            if beta == 0, m > 0, n > 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            return
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, bTransposed ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// y = x W^T for a weight stored [out, in] (GGUF order), x [rows, in] -> y [rows, out].
    @inline(__always)
    public static func linear(_ x: UnsafePointer<Float>, rows: Int, inDim: Int,
                              _ w: UnsafePointer<Float>, outDim: Int,
                              into y: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        gemm(m: rows, n: outDim, k: inDim, a: x, lda: inDim, b: w, ldb: inDim, bTransposed: true,
             c: y, ldc: outDim, beta: accumulate ? 1 : 0)
    }

    /// y = x W^T like `linear`, split across `workers` threads that each run a single-threaded
    /// sgemm: by rows when there are many, else by output features. biasprobe keeps OpenBLAS
    /// itself single-threaded because its idle threads spin (sched_yield) and steal a core from
    /// the Swift code that runs between GEMMs.
    public static func parallelLinear(_ x: UnsafePointer<Float>, rows: Int, inDim: Int,
                                      _ w: UnsafePointer<Float>, outDim: Int,
                                      into y: UnsafeMutablePointer<Float>, accumulate: Bool = false, workers: Int) {
        let beta: Float = accumulate ? 1 : 0
        if workers <= 1 || rows * outDim < 32 * 1024 {
            linear(x, rows: rows, inDim: inDim, w, outDim: outDim, into: y, accumulate: accumulate)
            return
        }
        let xp = SharedPointer(x), wp = SharedPointer(w), yp = SharedPointer(y)
        if rows >= 16 * workers {
            WorkerPool.run(workers) { i in
                let r0 = rows * i / workers, r1 = rows * (i + 1) / workers
                gemm(m: r1 - r0, n: outDim, k: inDim, a: xp.p + r0 * inDim, lda: inDim, b: wp.p, ldb: inDim,
                     bTransposed: true, c: yp.p + r0 * outDim, ldc: outDim, beta: beta)
            }
        } else {
            WorkerPool.run(workers) { i in
                let n0 = outDim * i / workers / 16 * 16, n1 = i == workers - 1 ? outDim : outDim * (i + 1) / workers / 16 * 16
                gemm(m: rows, n: n1 - n0, k: inDim, a: xp.p, lda: inDim, b: wp.p + n0 * inDim, ldb: inDim,
                     bTransposed: true, c: yp.p + n0, ldc: outDim, beta: beta)
            }
        }
    }

    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }

    /// The kernel OpenBLAS chose at load time, e.g. "SkylakeX" or "Prescott".
    public static var coreName: String { String(cString: openblas_get_corename()) }
    public static var config: String { String(cString: openblas_get_config()) }
}

/// Which OpenBLAS kernel this processor should run. Debian's OpenBLAS 0.3.21 does not recognise
/// recent Xeons and falls back to the generic "Prescott" kernel, about 5x slower; it picks the
/// kernel when the library loads, so only a program's start-up can change it (OPENBLAS_CORETYPE
/// and a re-exec: biasprobe's `BLASStartup`).
public enum BLASKernelSelection {
    /// The kernel name to ask for on this CPU, from /proc/cpuinfo flags (nil = leave it alone).
    public static func preferredCoreType(cpuFlags: Set<String>) -> String? {
        if cpuFlags.contains("avx512f") && cpuFlags.contains("avx512bw") && cpuFlags.contains("avx512vl") { return "SKYLAKEX" }
        if cpuFlags.contains("avx2") && cpuFlags.contains("fma") { return "HASWELL" }
        return nil
    }

    public static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            if let colon = line.firstIndex(of: ":") {
                return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
            }
        }
        return []
    }

    /// Kernels that are generic fallbacks rather than tuned for a processor family.
    public static let genericCores: Set<String> = ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "generic"]

    /// The kernel to ask for when OpenBLAS chose `current`: a tuned one when `current` is a
    /// generic fallback (or always, with `evenIfTuned`, which tests use) and the processor has
    /// AVX2 or AVX-512; nil to leave OpenBLAS's choice alone.
    public static func coreTypeToRequest(current: String, cpuFlags: Set<String>, evenIfTuned: Bool = false) -> String? {
        guard genericCores.contains(current.lowercased()) || evenIfTuned else { return nil }
        return preferredCoreType(cpuFlags: cpuFlags)
    }
}
