import XCTest
import PCInference

/// Decode rows (one new token a pass) go through their own attention loops (`cq_attn_scores`,
/// `cq_attn_pv`) and, when groups are few, one work item per head. Both are checked here against
/// a naive float64 softmax(QK^T/sqrt(d))V over keys spread across several cache slices, with
/// per-head evictions, and head sizes that take the 64-lane, 8-lane and scalar paths.
final class DecodeAttentionTests: XCTestCase {
    func testDecodeRowsAgreeWithNaiveReference() {
        var rng = SplitMix64(seed: 11)
        for trial in 0..<24 {
            let kv = [1, 2, 3][trial % 3], G = [1, 3, 4][(trial / 3) % 3], d = [64, 72, 8, 4][(trial / 9) % 4]
            let H = kv * G
            let config = ModelConfig(layerCount: 1, embeddingLength: H * d, headCount: H, kvHeadCount: kv, headDim: d,
                                     feedForwardLength: 8, vocabSize: 8)
            let chunkLens = (0..<Int.random(in: 1...3, using: &rng)).map { _ in Int.random(in: 1...90, using: &rng) }
            let decodeRows = Int.random(in: 1...6, using: &rng)
            let N = chunkLens.reduce(0, +) + decodeRows
            func rand(_ n: Int) -> [Float] { (0..<n).map { _ in Float(Double(rng.next() >> 11) / Double(1 << 53) * 4 - 2) } }
            let Q = rand(N * H * d), K = rand(N * kv * d), V = rand(N * kv * d)
            let cache = KVCache(config: config)
            var off = 0
            for L in chunkLens {
                let b = KVBlock(layers: 1, kvHeads: kv, headDim: d, capacity: L)
                K.withUnsafeBufferPointer { kp in V.withUnsafeBufferPointer { vp in
                    b.write(layer: 0, at: 0, k: kp.baseAddress! + off * kv * d, v: vp.baseAddress! + off * kv * d, rows: L)
                } }
                cache.appendWhole(b, count: L)
                off += L
            }
            var kept = Array(repeating: Array(repeating: true, count: N), count: H)
            if trial % 2 == 1 {
                for h in 0..<H {
                    let ev = (0..<off).filter { _ in rng.next() % 3 == 0 }
                    cache.evict(layer: 0, head: h, keys: ev)
                    for k in ev { kept[h][k] = false }
                }
            }
            let kernel = AttentionKernel(config: config, workers: 2)
            var out = [Float](repeating: 0, count: H * d)
            for r in off..<N {
                // One decode pass: the row's key goes in first, as the model does.
                let block = cache.reserve(1)
                K.withUnsafeBufferPointer { kp in V.withUnsafeBufferPointer { vp in
                    block.write(layer: 0, at: block.count, k: kp.baseAddress! + r * kv * d, v: vp.baseAddress! + r * kv * d, rows: 1)
                } }
                cache.commitAppend(1)
                Q.withUnsafeBufferPointer { qp in out.withUnsafeMutableBufferPointer { op in
                    kernel.run(layer: 0, q: qp.baseAddress! + r * H * d, rows: 1, cache: cache, layout: .init(segments: [.init(rows: 0..<1, keyStart: 0)]),
                               firstRowKey: r, out: op.baseAddress!, observers: [], scope: nil)
                } }
                for h in 0..<H {
                    let g = h / G
                    var s = [Double](repeating: -.infinity, count: r + 1)
                    for k in 0...r where kept[h][k] {
                        var dot = 0.0
                        for i in 0..<d { dot += Double(Q[r * H * d + h * d + i]) * Double(K[k * kv * d + g * d + i]) }
                        s[k] = dot / Double(d).squareRoot()
                    }
                    let m = s.max()!
                    let z = s.reduce(0.0) { $0 + exp($1 - m) }
                    for i in 0..<d {
                        var want = 0.0
                        for k in 0...r where s[k] > -.infinity { want += exp(s[k] - m) / z * Double(V[k * kv * d + g * d + i]) }
                        XCTAssertEqual(Double(out[h * d + i]), want, accuracy: 1e-5, "trial \(trial) row \(r) head \(h) lane \(i)")
                    }
                }
            }
            // Decode tokens share one block instead of a slice each.
            XCTAssertEqual(cache.slices.count, chunkLens.count + 1, "trial \(trial)")
        }
    }
}
