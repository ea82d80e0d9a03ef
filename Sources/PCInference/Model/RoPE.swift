import Foundation

/// Rotary position embedding tables for a set of explicit positions.
struct RoPE {
    let config: ModelConfig
    /// Inverse frequencies, one per rotated pair, with Llama-3.1 style divisors applied.
    let invFreq: [Double]

    init(config: ModelConfig, freqFactors: [Float]?) {
        self.config = config
        let half = config.ropeDimensions / 2
        invFreq = (0..<half).map { i in
            let f = pow(Double(config.ropeTheta), -2.0 * Double(i) / Double(config.ropeDimensions))
            return f / Double(freqFactors?[i] ?? 1)
        }
    }

    /// cos/sin tables [rows, half] for the given positions, computed in float64.
    func tables(positions: ArraySlice<Int>) -> (cos: [Float], sin: [Float]) {
        let half = invFreq.count
        var c = [Float](repeating: 0, count: positions.count * half)
        var s = c
        for (r, p) in positions.enumerated() {
            for i in 0..<half {
                let a = Double(p) * invFreq[i]
                c[r * half + i] = Float(Foundation.cos(a))
                s[r * half + i] = Float(Foundation.sin(a))
            }
        }
        return (c, s)
    }

    /// Rotate every head of x ([rows, heads*d]) in place.
    func apply(_ x: UnsafeMutablePointer<Float>, rows: Int, heads: Int, cos: [Float], sin: [Float]) {
        let d = config.headDim, half = invFreq.count
        cos.withUnsafeBufferPointer { cb in
            sin.withUnsafeBufferPointer { sb in
                for r in 0..<rows {
                    let cr = cb.baseAddress! + r * half, sr = sb.baseAddress! + r * half
                    for h in 0..<heads {
                        let v = x + r * heads * d + h * d
                        switch config.ropeStyle {
                        case .adjacentPairs:
                            for i in 0..<half {
                                let x0 = v[2 * i], x1 = v[2 * i + 1]
                                v[2 * i] = x0 * cr[i] - x1 * sr[i]
                                v[2 * i + 1] = x0 * sr[i] + x1 * cr[i]
                            }
                        case .halfSplit:
                            for i in 0..<half {
                                let x0 = v[i], x1 = v[i + half]
                                v[i] = x0 * cr[i] - x1 * sr[i]
                                v[i + half] = x0 * sr[i] + x1 * cr[i]
                            }
                        }
                    }
                }
            }
        }
    }
}
