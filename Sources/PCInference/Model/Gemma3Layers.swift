import Foundation

/// The element-wise steps Gemma 3 adds to the forward pass; LlamaModel calls them at marked places.
enum Gemma3Layers {
    /// RMS-normalise each head of rows [rows, heads*d] in place (q/k norms, before RoPE).
    static func headNorm(_ x: UnsafeMutablePointer<Float>, rows: Int, heads: Int, d: Int, weight: UnsafePointer<Float>, eps: Float) {
        for i in 0..<(rows * heads) { VectorMath.rmsNorm(x + i * d, weight, x + i * d, n: d, eps: eps) }
    }

    /// x += rmsnorm(src)·w row by row: the post-norm sits before the residual add. src is overwritten.
    static func postNormAdd(_ src: UnsafeMutablePointer<Float>, rows: Int, n: Int, weight: UnsafePointer<Float>, eps: Float,
                            into x: UnsafeMutablePointer<Float>) {
        for i in 0..<rows {
            VectorMath.rmsNorm(src + i * n, weight, src + i * n, n: n, eps: eps)
            VectorMath.add(x + i * n, src + i * n, n)
        }
    }

    /// g = gelu_tanh(g) * u (GeGLU), split over the workers: row blocks are large (n x 2,048).
    static func geglu(_ g: UnsafeMutablePointer<Float>, _ u: UnsafePointer<Float>, _ n: Int, workers: Int) {
        let parts = n >= 1 << 15 ? max(1, workers) : 1
        let per = (n + parts - 1) / parts
        let gp = SharedPointer(g), up = SharedPointer(u)
        WorkerPool.run(parts) { w in
            let lo = w * per, hi = min(n, lo + per)
            if lo < hi { VectorMath.geglu(gp.p + lo, up.p + lo, hi - lo) }
        }
    }

    /// x *= s over n floats (the embedding scale).
    static func scale(_ x: UnsafeMutablePointer<Float>, _ n: Int, by s: Float) {
        for i in 0..<n { x[i] *= s }
    }
}
