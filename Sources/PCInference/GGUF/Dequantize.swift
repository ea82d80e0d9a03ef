/// Block dequantisation to float32, following the GGML block layouts.
public enum Dequantize {
    @inline(__always) static func half(_ p: UnsafeRawPointer, _ off: Int) -> Float {
        Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: off, as: UInt16.self)))
    }

    /// Dequantise `count` elements of `type` from `raw` (which must hold whole blocks).
    public static func run(_ type: GGMLType, _ raw: UnsafeRawBufferPointer, into y: UnsafeMutablePointer<Float>, count: Int) {
        let p = raw.baseAddress!
        switch type {
        case .f32, .f16, .bf16: floats(type, p, into: y, count: count)
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0: blocks32(type, p, into: y, count: count)
        case .q4_K, .q5_K, .q6_K: superBlocks256(type, p, into: y, count: count)
        default:
            preconditionFailure("Dequantize.run called with unsupported type \(type.name)")
        }
    }

    /// Plain float types: f32, f16, bf16.
    static func floats(_ type: GGMLType, _ p: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>, count: Int) {
        switch type {
        case .f32:
            UnsafeMutableRawPointer(y).copyMemory(from: p, byteCount: count * 4)
        case .f16:
            for i in 0..<count { y[i] = half(p, 2 * i) }
        case .bf16:
            for i in 0..<count {
                y[i] = Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
            }
        default:
            preconditionFailure("Dequantize.floats called with type \(type.name)")
        }
    }

    /// The 32-weight block types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0.
    static func blocks32(_ type: GGMLType, _ p: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>, count: Int) {
        switch type {
        case .q4_0:
            // 32 weights: f16 scale d, 16 bytes of nibbles; low nibbles are weights 0..15, high 16..31.
            for b in 0..<count / 32 {
                let blk = p + b * 18, out = y + b * 32
                let d = half(blk, 0)
                for j in 0..<16 {
                    let q = blk.load(fromByteOffset: 2 + j, as: UInt8.self)
                    out[j] = Float(Int(q & 0xF) - 8) * d
                    out[j + 16] = Float(Int(q >> 4) - 8) * d
                }
            }
        case .q4_1:
            // 32 weights: f16 scale d, f16 minimum m, 16 bytes of nibbles.
            for b in 0..<count / 32 {
                let blk = p + b * 20, out = y + b * 32
                let d = half(blk, 0), m = half(blk, 2)
                for j in 0..<16 {
                    let q = blk.load(fromByteOffset: 4 + j, as: UInt8.self)
                    out[j] = Float(q & 0xF) * d + m
                    out[j + 16] = Float(q >> 4) * d + m
                }
            }
        case .q5_0:
            // 32 weights: f16 d, 32 bits of fifth bits, 16 bytes of nibbles; weight = d * (q - 16).
            for b in 0..<count / 32 {
                let blk = p + b * 22, out = y + b * 32
                let d = half(blk, 0), qh = blk.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
                for j in 0..<16 {
                    let q = blk.load(fromByteOffset: 6 + j, as: UInt8.self)
                    let h0 = Int((qh >> UInt32(j)) & 1) << 4, h1 = Int((qh >> UInt32(j + 16)) & 1) << 4
                    out[j] = Float((Int(q & 0xF) | h0) - 16) * d
                    out[j + 16] = Float((Int(q >> 4) | h1) - 16) * d
                }
            }
        case .q5_1:
            // 32 weights: f16 d, f16 minimum m, 32 fifth bits, 16 bytes of nibbles; weight = d * q + m.
            for b in 0..<count / 32 {
                let blk = p + b * 24, out = y + b * 32
                let d = half(blk, 0), m = half(blk, 2), qh = blk.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
                for j in 0..<16 {
                    let q = blk.load(fromByteOffset: 8 + j, as: UInt8.self)
                    let h0 = UInt8((qh >> UInt32(j)) & 1) << 4, h1 = UInt8((qh >> UInt32(j + 16)) & 1) << 4
                    out[j] = Float((q & 0xF) | h0) * d + m
                    out[j + 16] = Float((q >> 4) | h1) * d + m
                }
            }
        case .q8_0:
            // 32 weights: f16 scale d, 32 signed bytes.
            for b in 0..<count / 32 {
                let blk = p + b * 34, out = y + b * 32
                let d = half(blk, 0)
                for j in 0..<32 { out[j] = Float(blk.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
            }
        default:
            preconditionFailure("Dequantize.blocks32 called with type \(type.name)")
        }
    }

    /// The 256-weight K-quant types: Q4_K, Q5_K, Q6_K.
    static func superBlocks256(_ type: GGMLType, _ p: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>, count: Int) {
        switch type {
        case .q4_K:
            // 256 weights: f16 d, f16 dmin, 12 bytes of packed 6-bit (scale, min) pairs for 8 sub-blocks,
            // 128 bytes of nibbles; each 64-weight group uses the low then the high nibbles of 32 bytes.
            for b in 0..<count / 256 {
                let blk = p + b * 144
                let d = half(blk, 0), dmin = half(blk, 2)
                let sc = (blk + 4).assumingMemoryBound(to: UInt8.self)
                let qs = (blk + 16).assumingMemoryBound(to: UInt8.self)
                var out = y + b * 256
                for g in 0..<4 {
                    let (s1, m1) = scaleMinK4(2 * g, sc), (s2, m2) = scaleMinK4(2 * g + 1, sc)
                    let d1 = d * Float(s1), mm1 = dmin * Float(m1), d2 = d * Float(s2), mm2 = dmin * Float(m2)
                    let q = qs + 32 * g
                    for l in 0..<32 { out[l] = d1 * Float(q[l] & 0xF) - mm1 }
                    for l in 0..<32 { out[32 + l] = d2 * Float(q[l] >> 4) - mm2 }
                    out += 64
                }
            }
        case .q5_K:
            // 256 weights: like Q4_K plus 32 bytes of fifth bits; group g's low nibbles take bit 2g
            // of qh[l], its high nibbles bit 2g + 1.
            for b in 0..<count / 256 {
                let blk = p + b * 176
                let d = half(blk, 0), dmin = half(blk, 2)
                let sc = (blk + 4).assumingMemoryBound(to: UInt8.self)
                let qh = (blk + 16).assumingMemoryBound(to: UInt8.self)
                let qs = (blk + 48).assumingMemoryBound(to: UInt8.self)
                var out = y + b * 256
                for g in 0..<4 {
                    let (s1, m1) = scaleMinK4(2 * g, sc), (s2, m2) = scaleMinK4(2 * g + 1, sc)
                    let d1 = d * Float(s1), mm1 = dmin * Float(m1), d2 = d * Float(s2), mm2 = dmin * Float(m2)
                    let q = qs + 32 * g
                    for l in 0..<32 { out[l] = d1 * Float((q[l] & 0xF) | (((qh[l] >> (2 * g)) & 1) << 4)) - mm1 }
                    for l in 0..<32 { out[32 + l] = d2 * Float((q[l] >> 4) | (((qh[l] >> (2 * g + 1)) & 1) << 4)) - mm2 }
                    out += 64
                }
            }
        case .q6_K:
            // 256 weights: 128 bytes low nibbles, 64 bytes of 2-bit highs, 16 int8 scales, f16 d.
            for b in 0..<count / 256 {
                let blk = p + b * 210
                var ql = blk.assumingMemoryBound(to: UInt8.self)
                var qh = (blk + 128).assumingMemoryBound(to: UInt8.self)
                var sc = (blk + 192).assumingMemoryBound(to: Int8.self)
                let d = half(blk, 208)
                var out = y + b * 256
                for _ in 0..<2 {
                    for l in 0..<32 {
                        let i = l / 16
                        let q1 = Int(ql[l] & 0xF) | (Int(qh[l] & 3) << 4)
                        let q2 = Int(ql[l + 32] & 0xF) | (Int((qh[l] >> 2) & 3) << 4)
                        let q3 = Int(ql[l] >> 4) | (Int((qh[l] >> 4) & 3) << 4)
                        let q4 = Int(ql[l + 32] >> 4) | (Int((qh[l] >> 6) & 3) << 4)
                        out[l] = d * Float(sc[i]) * Float(q1 - 32)
                        out[l + 32] = d * Float(sc[i + 2]) * Float(q2 - 32)
                        out[l + 64] = d * Float(sc[i + 4]) * Float(q3 - 32)
                        out[l + 96] = d * Float(sc[i + 6]) * Float(q4 - 32)
                    }
                    out += 128; ql += 64; qh += 32; sc += 8
                }
            }
        default:
            preconditionFailure("Dequantize.superBlocks256 called with type \(type.name)")
        }
    }

    /// The j-th (scale, min) pair of a Q4_K block's 12 packed scale bytes.
    @inline(__always) static func scaleMinK4(_ j: Int, _ q: UnsafePointer<UInt8>) -> (UInt8, UInt8) {
        if j < 4 { return (q[j] & 63, q[j + 4] & 63) }
        return ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}
