import Foundation
import PCInference
import XCTest

/// The quantized dot kernels (decode) against dequantise-then-float-dot, on random valid blocks
/// of every weight type biasprobe loads, for every kernel family this CPU runs.
final class QuantKernelTests: XCTestCase {
    static let types: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K, .f16, .bf16, .f32]

    /// Random blocks with sane scales: random bytes, then the f16 scale fields overwritten.
    static func randomRow(_ type: GGMLType, cols: Int, rng: inout SplitMix64) -> [UInt8] {
        let (elems, bytes) = type.blockGeometry!
        var raw = (0..<(cols / elems * bytes)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        func half(_ v: Float, at o: Int) {
            let b = Float16(v).bitPattern
            raw[o] = UInt8(b & 0xFF); raw[o + 1] = UInt8(b >> 8)
        }
        for blk in 0..<(cols / elems) {
            let o = blk * bytes, d = Float.random(in: 0.001...0.02, using: &rng)
            switch type {
            case .q4_0, .q5_0, .q8_0: half(d, at: o)
            case .q4_1, .q5_1, .q4_K, .q5_K: half(d, at: o); half(Float.random(in: -0.02...0.02, using: &rng), at: o + 2)
            case .q6_K: half(d, at: o + 208)
            case .f16: half(Float.random(in: -1...1, using: &rng), at: o)
            case .bf16:
                let b = Float.random(in: -1...1, using: &rng).bitPattern >> 16
                raw[o] = UInt8(b & 0xFF); raw[o + 1] = UInt8(b >> 8)
            case .f32:
                let b = Float.random(in: -1...1, using: &rng).bitPattern
                for k in 0..<4 { raw[o + k] = UInt8((b >> (8 * UInt32(k))) & 0xFF) }
            default: XCTFail("no generator for \(type.name)")
            }
        }
        return raw
    }

    /// x as the kernels see it: 8-bit symmetric per block (32 or 256 elements); floats unchanged.
    static func quantizedActivation(_ x: [Float], for type: GGMLType) -> [Float] {
        let block: Int
        switch type {
        case .f16, .bf16, .f32: return x
        case .q4_K, .q5_K, .q6_K: block = 256
        default: block = 32
        }
        var out = x
        for b in stride(from: 0, to: x.count, by: block) {
            let amax = x[b..<(b + block)].map(abs).max()!
            let d = amax / 127, id = d > 0 ? 1 / d : 0
            for i in b..<(b + block) { out[i] = (x[i] * id).rounded(.toNearestOrEven) * d }
        }
        return out
    }

    func testEveryKernelMatchesDequantizeThenDot() throws {
        let cols = 1024
        var rng = SplitMix64(seed: 15)
        let best = QuantMatVec.detectedKernel
        defer { QuantMatVec.useKernel(best) }
        for family in 0...best {
            XCTAssertEqual(QuantMatVec.useKernel(family), family)
            for type in Self.types {
                for trial in 0..<3 {
                    let raw = Self.randomRow(type, cols: cols, rng: &rng)
                    let x = (0..<cols).map { _ in Float.random(in: -2...2, using: &rng) }
                    var w = [Float](repeating: 0, count: cols)
                    raw.withUnsafeBytes { Dequantize.run(type, $0, into: &w, count: cols) }
                    // Against the activation the kernel actually uses (family 0, the fallback,
                    // keeps x in float): only float rounding differs.
                    let xq = family == 0 ? x : Self.quantizedActivation(x, for: type)
                    var want = 0.0, scale = 0.0
                    for i in 0..<cols { want += Double(w[i]) * Double(xq[i]); scale += abs(Double(w[i]) * Double(xq[i])) }
                    let got = raw.withUnsafeBytes { QuantMatVec.rowDot(type: type, raw: $0, x: x) }
                    XCTAssertEqual(Double(got), want, accuracy: 1e-5 * scale + 1e-6,
                                   "\(type.name) kernel family \(family) trial \(trial)")
                    // And against the float activation: within the 8-bit rounding of x.
                    var exact = 0.0, bound = 0.0
                    for i in 0..<cols { exact += Double(w[i]) * Double(x[i]); bound += abs(Double(w[i])) * abs(Double(xq[i] - x[i])) }
                    XCTAssertLessThanOrEqual(abs(Double(got) - exact), bound + 1e-5 * scale + 1e-6, "\(type.name) family \(family)")
                }
            }
        }
    }
}
