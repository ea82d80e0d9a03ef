import CQuant
import XCTest
import PCInference

/// Prefill blocks multiply probabilities by values with `cq_attn_pv_rows`, which reads the score
/// block in place. Checked against float64 sums, and bit for bit against the decode loop
/// `cq_attn_pv` row by row (same fused chain per lane), over every kernel family this CPU runs,
/// row counts around the 6-row tile, key counts around the 256-key block, an output stride wider
/// than d (nothing written outside the rows), and keys split over two calls as cache slices are.
final class PrefillValueRowsTests: XCTestCase {
    func testRowsEqualDecodeLoopAndFloat64() {
        var rng = SplitMix64(seed: 29)
        func rand(_ n: Int) -> [Float] { (0..<n).map { _ in Float(Double(rng.next() >> 11) / Double(1 << 53) * 2 - 1) } }
        QuantKernelTests.forEachKernelFamily { family in
            for (m, n, d) in [(6, 256, 64), (13, 257, 64), (1, 5, 16), (7, 600, 128), (12, 511, 256), (5, 1, 64), (4, 0, 64)] {
                let ldp = n + 3, ldo = d + 16
                let P = rand(m * ldp), V = rand(n * d), start = rand(m * ldo)
                for accumulate in [false, true] {
                    let what = "family \(family) m \(m) n \(n) d \(d) accumulate \(accumulate)"
                    var rows = start
                    let rc = cq_attn_pv_rows(P, Int32(ldp), Int32(m), Int32(n), V, Int32(d), &rows, Int32(ldo), accumulate ? 1 : 0)
                    // Family 0 (no SIMD) declines, and the caller keeps sgemm.
                    if family == 0 { XCTAssertEqual(rc, -1, what); XCTAssertEqual(rows, start, what); continue }
                    XCTAssertEqual(rc, 0, what)
                    // The keys in two calls, the second accumulating: the same bits as one call.
                    var split = start
                    let cut = n / 3
                    _ = cq_attn_pv_rows(P, Int32(ldp), Int32(m), Int32(cut), V, Int32(d), &split, Int32(ldo), accumulate ? 1 : 0)
                    P.withUnsafeBufferPointer { pp in V.withUnsafeBufferPointer { vp in
                        _ = cq_attn_pv_rows(pp.baseAddress! + cut, Int32(ldp), Int32(m), Int32(n - cut), vp.baseAddress! + cut * d, Int32(d),
                                            &split, Int32(ldo), 1)
                    } }
                    var loop = start
                    for i in 0..<m {
                        P.withUnsafeBufferPointer { pp in loop.withUnsafeMutableBufferPointer { op in
                            cq_attn_pv(pp.baseAddress! + i * ldp, Int32(ldp), 1, Int32(n), V, Int32(d), op.baseAddress! + i * ldo,
                                       accumulate ? 1 : 0)
                        } }
                    }
                    for i in 0..<m {
                        for e in 0..<ldo {
                            let at = i * ldo + e
                            if e >= d { XCTAssertEqual(rows[at], start[at], "\(what): wrote past row \(i)'s d lanes"); continue }
                            var want = accumulate ? Double(start[at]) : 0, scale = abs(want)
                            for j in 0..<n {
                                want += Double(P[i * ldp + j]) * Double(V[j * d + e]); scale += abs(Double(P[i * ldp + j] * V[j * d + e]))
                            }
                            XCTAssertEqual(Double(rows[at]), want, accuracy: 1e-6 * scale + 1e-7, "\(what) row \(i) lane \(e)")
                            XCTAssertEqual(split[at].bitPattern, rows[at].bitPattern, "\(what) split keys, row \(i) lane \(e)")
                            // The decode loop takes its 64-lane path only for d a multiple of 64
                            // (elsewhere it splits the keys into two chains); there the bits agree.
                            if d % 64 == 0 && n > 0 {
                                XCTAssertEqual(rows[at].bitPattern, loop[at].bitPattern, "\(what) row \(i) lane \(e)")
                            }
                        }
                    }
                }
            }
        }
    }
}
