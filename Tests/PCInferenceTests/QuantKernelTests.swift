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

    /// Runs `body` with each kernel family this CPU can run in use (0, the Swift fallback, up to
    /// the detected one), then restores the detected family.
    static func forEachKernelFamily(_ body: (Int) throws -> Void) rethrows {
        let best = QuantMatVec.detectedKernel
        defer { QuantMatVec.useKernel(best) }
        for family in 0...best {
            XCTAssertEqual(QuantMatVec.useKernel(family), family)
            try body(family)
        }
    }

    /// Five rows (the kernels take four at a time, then the rest), both activation modes.
    func testEveryKernelMatchesDequantizeThenDot() throws {
        let cols = 512, rows = 5
        var rng = SplitMix64(seed: 15)
        Self.forEachKernelFamily { family in
            for type in Self.types {
                for int8 in [false, true] {
                    let raw = (0..<rows).flatMap { _ in Self.randomRow(type, cols: cols, rng: &rng) }
                    let x = (0..<cols).map { _ in Float.random(in: -2...2, using: &rng) }
                    var w = [Float](repeating: 0, count: rows * cols)
                    raw.withUnsafeBytes { Dequantize.run(type, $0, into: &w, count: rows * cols) }
                    let got = raw.withUnsafeBytes { QuantMatVec.matVec(type: type, raw: $0, rows: rows, x: x, int8: int8) }
                    // The activation the kernel uses: float x, or x rounded to 8 bits per block
                    // (family 0, the Swift fallback, always uses float x).
                    let xq = family == 0 || !int8 ? x : Self.quantizedActivation(x, for: type)
                    for r in 0..<rows {
                        var want = 0.0, scale = 0.0, exact = 0.0, bound = 0.0
                        for i in 0..<cols {
                            let wi = Double(w[r * cols + i])
                            want += wi * Double(xq[i]); scale += abs(wi * Double(xq[i]))
                            exact += wi * Double(x[i]); bound += abs(wi) * abs(Double(xq[i] - x[i]))
                        }
                        let what = "\(type.name) family \(family) \(int8 ? "int8" : "float") row \(r)"
                        // Only float rounding differs from the float64 dot with that activation.
                        XCTAssertEqual(Double(got[r]), want, accuracy: 1e-5 * scale + 1e-6, what)
                        // Against the float activation: within the 8-bit rounding of x.
                        XCTAssertLessThanOrEqual(abs(Double(got[r]) - exact), bound + 1e-5 * scale + 1e-6, what)
                    }
                }
            }
        }
    }
}
