/// Element-wise kernels on float32 buffers, written with SIMD16 so they compile to AVX-512.
public enum VectorMath {
    public typealias V = SIMD16<Float>

    /// exp(x) for 16 lanes; relative error about 1e-7. Inputs below -87 give exactly 0.
    /// Swift's SIMD `rounded()` lowers to scalar code, so rounding uses the 1.5*2^23 trick.
    @inline(__always)
    public static func exp(_ x: V) -> V {
        let magic: Float = 12_582_912 // 1.5 * 2^23
        // Written out: the generic `clamped` is not inlined and costs as much as the polynomial.
        var xc = x.replacing(with: -87.3, where: x .< -87.3)
        xc.replace(with: 88.3, where: xc .> 88.3)
        let t = xc * 1.442695041 + magic
        let n = t - magic
        // r = x - n ln2, with ln2 split in two for accuracy.
        var r = xc - n * 0.693359375
        r = r + n * 2.12194440e-4
        // e^r on [-ln2/2, ln2/2]: degree-6 polynomial (Cephes expf coefficients).
        var p = V(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * (r * r) + r + 1
        // 2^n from the integer sitting in t's low mantissa bits.
        let ni = unsafeBitCast(t, to: SIMD16<Int32>.self) &- unsafeBitCast(V(repeating: magic), to: SIMD16<Int32>.self)
        let scale = unsafeBitCast((ni &+ 127) &<< 23, to: V.self)
        var result = p * scale
        result.replace(with: 0, where: x .< -87)
        return result
    }

    @inline(__always)
    static func hsum(_ v: V) -> Float {
        let a = v.lowHalf + v.highHalf
        let b = a.lowHalf + a.highHalf
        let c = b.lowHalf + b.highHalf
        return c[0] + c[1]
    }

    @inline(__always)
    static func hmax(_ v: V) -> Float {
        var m = v[0]
        for i in 1..<16 where v[i] > m { m = v[i] }
        return m
    }

    /// Sum of n floats.
    @inline(__always)
    public static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V(repeating: 0)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 16 <= n { acc += raw.loadUnaligned(fromByteOffset: i * 4, as: V.self); i += 16 }
        var s = hsum(acc)
        while i < n { s += p[i]; i += 1 }
        return s
    }

    /// Maximum of n floats (n >= 1).
    @inline(__always)
    public static func max(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V(repeating: -.infinity)
        var i = 0
        let raw = UnsafeRawPointer(p)
        // A compare-and-select: Swift lowers `pointwiseMax` on SIMD16 to a scalar loop here.
        while i + 16 <= n {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: V.self)
            acc.replace(with: v, where: v .> acc)
            i += 16
        }
        var m = hmax(acc)
        while i < n { m = Swift.max(m, p[i]); i += 1 }
        return m
    }

    /// In place: x[i] = exp(x[i] - shift). Returns (sum of results, sum of result*(x-shift)).
    /// The second sum is what the row entropy needs; it is only accumulated when `withEntropy`.
    @inline(__always)
    public static func expShifted(_ x: UnsafeMutablePointer<Float>, _ n: Int, shift: Float, withEntropy: Bool) -> (Float, Float) {
        var accS = V(repeating: 0), accE = V(repeating: 0)
        let raw = UnsafeMutableRawPointer(x)
        var i = 0
        while i + 16 <= n {
            let z = raw.loadUnaligned(fromByteOffset: i * 4, as: V.self) - shift
            let e = exp(z)
            raw.storeBytes(of: e, toByteOffset: i * 4, as: V.self)
            accS += e
            if withEntropy { accE += e * z.replacing(with: 0, where: e .== 0) }
            i += 16
        }
        var s = hsum(accS), se = withEntropy ? hsum(accE) : 0
        if i < n {
            var tail = V(repeating: -.infinity)
            for j in 0..<(n - i) { tail[j] = x[i + j] - shift }
            let e = exp(tail)
            for j in 0..<(n - i) {
                x[i + j] = e[j]
                s += e[j]
                if withEntropy && e[j] > 0 { se += e[j] * tail[j] }
            }
        }
        return (s, se)
    }

    /// In place: x *= a.
    @inline(__always)
    public static func scale(_ x: UnsafeMutablePointer<Float>, _ n: Int, by a: Float) {
        let raw = UnsafeMutableRawPointer(x)
        var i = 0
        while i + 16 <= n {
            raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: i * 4, as: V.self) * a, toByteOffset: i * 4, as: V.self)
            i += 16
        }
        while i < n { x[i] *= a; i += 1 }
    }

    /// y = x / sqrt(mean(x^2) + eps) * w, for one row of length n (accumulated in float64 for stability).
    public static func rmsNorm(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, n: Int, eps: Float) {
        var acc = V(repeating: 0)
        var i = 0
        let raw = UnsafeRawPointer(x)
        while i + 16 <= n { let v = raw.loadUnaligned(fromByteOffset: i * 4, as: V.self); acc += v * v; i += 16 }
        var ss = Double(hsum(acc))
        while i < n { ss += Double(x[i] * x[i]); i += 1 }
        let inv = Float(1.0 / (ss / Double(n) + Double(eps)).squareRoot())
        for j in 0..<n { y[j] = x[j] * inv * w[j] }
    }

    /// g = silu(g) * u, element-wise.
    public static func swiglu(_ g: UnsafeMutablePointer<Float>, _ u: UnsafePointer<Float>, _ n: Int) {
        let rg = UnsafeMutableRawPointer(g), ru = UnsafeRawPointer(u)
        var i = 0
        while i + 16 <= n {
            let a = rg.loadUnaligned(fromByteOffset: i * 4, as: V.self)
            let b = ru.loadUnaligned(fromByteOffset: i * 4, as: V.self)
            let s = a / (1 + exp(-a))
            rg.storeBytes(of: s * b, toByteOffset: i * 4, as: V.self)
            i += 16
        }
        while i < n { let a = g[i]; g[i] = a / (1 + _exp(-a)) * u[i]; i += 1 }
    }

    /// g = gelu_tanh(g) * u (Gemma's GeGLU), using 0.5 z (1 + tanh a) = z / (1 + e^(-2a)),
    /// a = sqrt(2/pi) (z + 0.044715 z^3): one exp per element, relative error about 2e-7.
    public static func geglu(_ g: UnsafeMutablePointer<Float>, _ u: UnsafePointer<Float>, _ n: Int) {
        let rg = UnsafeMutableRawPointer(g), ru = UnsafeRawPointer(u)
        let c2: Float = 2 * 0.7978845608028654
        var i = 0
        while i + 16 <= n {
            let z = rg.loadUnaligned(fromByteOffset: i * 4, as: V.self)
            let b = ru.loadUnaligned(fromByteOffset: i * 4, as: V.self)
            let s = z / (1 + exp(-c2 * (z + 0.044715 * z * z * z)))
            rg.storeBytes(of: s * b, toByteOffset: i * 4, as: V.self)
            i += 16
        }
        while i < n { let z = g[i]; g[i] = z / (1 + _exp(-c2 * (z + 0.044715 * z * z * z))) * u[i]; i += 1 }
    }

    @inline(__always) static func _exp(_ x: Float) -> Float { exp(V(repeating: x))[0] }

    /// x += y, element-wise.
    public static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) {
        for i in 0..<n { x[i] += y[i] }
    }
}
