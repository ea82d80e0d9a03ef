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

    /// g = gelu_tanh(g) * u (GeGLU). Double inside tanh: the FFN is a small share of the time.
    static func geglu(_ g: UnsafeMutablePointer<Float>, _ u: UnsafePointer<Float>, _ n: Int) {
        for i in 0..<n {
            let z = Double(g[i])
            let gelu = 0.5 * z * (1 + tanh(0.7978845608028654 * (z + 0.044715 * z * z * z)))
            g[i] = Float(gelu) * u[i]
        }
    }

    /// x *= s over n floats (the embedding scale).
    static func scale(_ x: UnsafeMutablePointer<Float>, _ n: Int, by s: Float) {
        for i in 0..<n { x[i] *= s }
    }
}
