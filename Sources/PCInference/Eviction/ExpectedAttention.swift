import CBLAS
import Foundation

/// Expected attention (Devoto et al., "Expected Attention: KV Cache Compression by Estimating
/// Attention from Future Queries Distribution", 2025; NVIDIA/kvpress
/// `kvpress/presses/expected_attention_press.py`): the attention a key should receive from the
/// queries still to come, modelled as a Gaussian whose mean and covariance are those of the
/// context's own queries, rotated by the average RoPE rotation of the next `n_future` positions.
/// For a key k (post-RoPE, as cached) and a query head with rotated mean mu and covariance S:
/// logit = mu.k / sqrt(d) + k^T S k / (2 d), softmaxed over the scored keys, times ||v||.
public enum ExpectedAttention {
    /// kvpress's defaults: n_future_positions 512, n_sink 4.
    public static let futurePositions = 512, sink = 4

    /// Per key of `0 ..< keyCount`, one query head's expected-attention score times the value
    /// norm; keys outside `keys` (the sinks, the question) score 0 and are not in the softmax.
    /// `mean` [d] and `covariance` [d x d] are the pre-RoPE query moments.
    public static func scores(mean: [Double], covariance: [Double], rotation: FutureRotation, keys: Range<Int>, keyCount: Int,
                              key: (Int) -> UnsafePointer<Float>, value: (Int) -> UnsafePointer<Float>) -> [Float] {
        let d = rotation.headDim, m = keys.count
        var out = [Float](repeating: 0, count: keyCount)
        guard m > 0 else { return out }
        var mu = mean, cov = covariance
        rotation.rotate(&mu)
        rotation.conjugate(&cov)
        var kd = [Double](repeating: 0, count: m * d), kc = kd
        for (j, k) in keys.enumerated() { let row = key(k); for i in 0..<d { kd[j * d + i] = Double(row[i]) } }
        // K S for every key at once (S is symmetric, so its row-major layout is its transpose too).
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(d), Int32(d), 1, kd, Int32(d), cov, Int32(d), 0, &kc, Int32(d))
        let rootD = Double(d).squareRoot()
        var logits = [Double](repeating: 0, count: m)
        for j in 0..<m {
            var lin = 0.0, quad = 0.0
            for i in 0..<d { lin += mu[i] * kd[j * d + i]; quad += kc[j * d + i] * kd[j * d + i] }
            logits[j] = lin / rootD + quad / Double(2 * d)
        }
        let mx = logits.max()!
        var z = 0.0
        for j in 0..<m { logits[j] = Foundation.exp(logits[j] - mx); z += logits[j] }
        for (j, k) in keys.enumerated() {
            let v = value(k)
            var vv = 0.0
            for i in 0..<d { vv += Double(v[i]) * Double(v[i]) }
            out[k] = Float(logits[j] / z * vv.squareRoot())
        }
        return out
    }
}

/// The RoPE rotation averaged over a run of positions, pair by pair in the model's own layout
/// (adjacent pairs or half split, its frequencies and any per-pair frequency factors): a rotation
/// of each pair by angle p theta_i averages to [[c, -s], [s, c]] with c, s the mean cos and sin.
/// Dimensions past the rotated ones are left alone, as RoPE leaves them.
public struct FutureRotation: Sendable {
    public let cos: [Double], sin: [Double]
    public let headDim: Int, style: ModelConfig.RopeStyle

    init(rope: RoPE, positions: Range<Int>) {
        let n = Double(max(1, positions.count))
        cos = rope.invFreq.map { f in positions.reduce(0.0) { $0 + Foundation.cos(Double($1) * f) } / n }
        sin = rope.invFreq.map { f in positions.reduce(0.0) { $0 + Foundation.sin(Double($1) * f) } / n }
        headDim = rope.config.headDim; style = rope.config.ropeStyle
    }

    /// The average over `positions` for a model of this configuration (`freqFactors`: the GGUF's
    /// rope_freqs, if any).
    public init(config: ModelConfig, freqFactors: [Float]? = nil, positions: Range<Int>) {
        self.init(rope: RoPE(config: config, freqFactors: freqFactors), positions: positions)
    }

    /// The two dimensions pair `i` rotates.
    @inline(__always) func pair(_ i: Int) -> (Int, Int) { style == .adjacentPairs ? (2 * i, 2 * i + 1) : (i, i + cos.count) }

    /// v <- R v.
    public func rotate(_ v: inout [Double]) { rotate(&v, offset: 0, stride: 1) }

    /// M <- R M R^T for a row-major d x d matrix.
    public func conjugate(_ m: inout [Double]) {
        for j in 0..<headDim { rotate(&m, offset: j, stride: headDim) }   // R M: every column
        for i in 0..<headDim { rotate(&m, offset: i * headDim, stride: 1) }   // (R M) R^T: every row
    }

    private func rotate(_ v: inout [Double], offset: Int, stride: Int) {
        for i in cos.indices {
            let (a, b) = pair(i), ia = offset + a * stride, ib = offset + b * stride
            let x0 = v[ia], x1 = v[ib]
            v[ia] = cos[i] * x0 - sin[i] * x1
            v[ib] = sin[i] * x0 + cos[i] * x1
        }
    }
}

/// Per layer and query head, the count, sum and outer-product sum (float64) of the pre-RoPE
/// queries of the rows whose keys fall in `rows` (kvpress: the context's rows after the first
/// n_sink). Mean and population covariance follow; the queries are q = h Wq^T without any bias,
/// so the moments are kvpress's `Wq mean_h` and `Wq Sigma Wq^T` (it reads q_proj.weight only).
public final class QueryMoments: @unchecked Sendable {
    public let layers: Int, heads: Int, headDim: Int
    /// Key indices (= positions in the pass) whose rows count; also the keys the scores cover.
    public let rows: Range<Int>
    private(set) var count: [Int]
    private var sum: [Double], outer: [Double]
    private var buffer: [Double] = []

    public init(layers: Int, heads: Int, headDim: Int, rows: Range<Int>) {
        self.layers = layers; self.heads = heads; self.headDim = headDim; self.rows = rows
        count = Array(repeating: 0, count: layers)
        sum = Array(repeating: 0, count: layers * heads * headDim)
        outer = Array(repeating: 0, count: layers * heads * headDim * headDim)
    }

    /// Add `n` query rows of `layer` ([n, heads * d], row r being key `firstKey + r`); rows
    /// outside `rows` are skipped.
    public func add(layer l: Int, firstKey: Int, rows n: Int, q: UnsafePointer<Float>) {
        let lo = max(rows.lowerBound, firstKey), hi = min(rows.upperBound, firstKey + n)
        guard lo < hi else { return }
        let m = hi - lo, d = headDim, qDim = heads * d
        if buffer.count < m * d { buffer = Array(repeating: 0, count: m * d) }
        count[l] += m
        for h in 0..<heads {
            let base = (l * heads + h) * d
            for r in 0..<m {
                let src = q + (lo - firstKey + r) * qDim + h * d
                for i in 0..<d { let x = Double(src[i]); buffer[r * d + i] = x; sum[base + i] += x }
            }
            // Upper triangle of the outer-product sum; `covariance` mirrors it.
            outer.withUnsafeMutableBufferPointer { o in
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(d), Int32(m), 1, buffer, Int32(d), 1,
                            o.baseAddress! + base * d, Int32(d))
            }
        }
    }

    public func mean(layer l: Int, head h: Int) -> [Double] {
        let d = headDim, n = Double(max(1, count[l])), base = (l * heads + h) * d
        return (0..<d).map { sum[base + $0] / n }
    }

    /// Population covariance (divided by the count, as kvpress).
    public func covariance(layer l: Int, head h: Int) -> [Double] {
        let d = headDim, n = Double(max(1, count[l])), mu = mean(layer: l, head: h), base = (l * heads + h) * d * d
        var c = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for j in i..<d {
                let v = outer[base + i * d + j] / n - mu[i] * mu[j]
                c[i * d + j] = v; c[j * d + i] = v
            }
        }
        return c
    }
}
