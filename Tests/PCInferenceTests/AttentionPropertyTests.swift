import XCTest
import PCInference

/// The blocked kernel and its observers against a naive float64 full-matrix implementation, on
/// random small layouts: odd lengths, chunks shorter than S + R, one-token chunks, GQA groups,
/// keys spread over several cache blocks, and per-head evictions.
final class AttentionPropertyTests: XCTestCase {
    struct Case {
        var chunkLens: [Int], queryLen: Int, heads: Int, kvHeads: Int, d: Int, S: Int, R: Int, bins: Int, lastR: Int
    }

    func testRandomLayoutsAgreeWithNaiveReference() throws {
        var rng = SplitMix64(seed: 7)
        for trial in 0..<40 {
            let kv = [1, 2, 3].randomElement(using: &rng)!
            let c = Case(chunkLens: (0..<Int.random(in: 1...4, using: &rng)).map { _ in [1, 2, 3, 5, 7, 13, 19, 33, 70, 131].randomElement(using: &rng)! },
                         queryLen: Int.random(in: 1...9, using: &rng), heads: kv * [1, 2, 3].randomElement(using: &rng)!, kvHeads: kv,
                         d: [4, 8, 16].randomElement(using: &rng)!, S: Int.random(in: 1...5, using: &rng), R: Int.random(in: 1...9, using: &rng),
                         bins: Int.random(in: 1...7, using: &rng), lastR: Int.random(in: 1...4, using: &rng))
            try check(c, evict: trial % 3 == 2, rng: &rng, trial: trial)
        }
    }

    func check(_ cs: Case, evict: Bool, rng: inout SplitMix64, trial: Int) throws {
        let H = cs.heads, Hkv = cs.kvHeads, d = cs.d, G = H / Hkv
        let config = ModelConfig(layerCount: 1, embeddingLength: H * d, headCount: H, kvHeadCount: Hkv, headDim: d,
                                 feedForwardLength: 8, vocabSize: 8)
        let nChunks = cs.chunkLens.count
        var spans: [Range<Int>] = []
        var off = 0
        for L in cs.chunkLens { spans.append(off..<(off + L)); off += L }
        let N = off + cs.queryLen
        func rand(_ n: Int) -> [Float] { (0..<n).map { _ in Float(Double(rng.next() >> 11) / Double(1 << 53) * 4 - 2) } }
        let Q = rand(N * H * d), K = rand(N * Hkv * d), V = rand(N * Hkv * d)

        // Cache: one block per chunk plus one for the query rows, to exercise slicing.
        let cache = KVCache(config: config)
        for span in spans {
            let b = KVBlock(layers: 1, kvHeads: Hkv, headDim: d, capacity: span.count)
            K.withUnsafeBufferPointer { kp in V.withUnsafeBufferPointer { vp in
                b.write(layer: 0, at: 0, k: kp.baseAddress! + span.lowerBound * Hkv * d, v: vp.baseAddress! + span.lowerBound * Hkv * d, rows: span.count)
            } }
            cache.appendWhole(b, count: span.count)
        }
        let tail = cache.reserve(cs.queryLen)
        K.withUnsafeBufferPointer { kp in V.withUnsafeBufferPointer { vp in
            tail.write(layer: 0, at: 0, k: kp.baseAddress! + off * Hkv * d, v: vp.baseAddress! + off * Hkv * d, rows: cs.queryLen)
        } }
        cache.commitAppend(cs.queryLen)
        // Evictions: random chunk keys per head, never a row's own key (only chunk keys are masked,
        // and context rows always see themselves, so a row can lose all but its own key).
        var kept = Array(repeating: Array(repeating: true, count: N), count: H)
        if evict {
            for h in 0..<H {
                let ev = (0..<off).filter { _ in rng.next() % 4 == 0 }
                cache.evict(layer: 0, head: h, keys: ev)
                for k in ev { kept[h][k] = false }
            }
        }
        // The pass: every row is new here (firstRowKey 0 with keys already present would double
        // count), so attend all N rows: chunk rows see their chunk, query rows everything.
        var segs = spans.map { AttentionLayout.Segment(rows: $0, keyStart: $0.lowerBound) }
        segs.append(.init(rows: off..<N, keyStart: 0))
        let scope = ObservationScope(stage: .global, chunkSpans: spans, chunkIDs: Array(0..<nChunks), queryKeyStart: off,
                                     queryRowStart: off, queryRowCount: cs.queryLen, firstRowKey: 0)
        let qAll = BandMassObserver(stage: .global, rows: .queryAll, sinkWidth: cs.S, recentWidth: cs.R, layers: 1, heads: H, chunks: nChunks)
        let qLast = BandMassObserver(stage: .global, rows: .queryLast(cs.lastR), sinkWidth: cs.S, recentWidth: cs.R, layers: 1, heads: H, chunks: nChunks)
        let cAbs = BandMassObserver(stage: .global, rows: .context, sinkWidth: cs.S, recentWidth: cs.R, layers: 1, heads: H, chunks: nChunks)
        let cRel = BandMassObserver(stage: .global, rows: .context, sinkWidth: cs.S, recentWidth: cs.R, binning: .relative, layers: 1, heads: H, chunks: nChunks)
        let prof = PositionProfileObserver(stage: .global, rows: .queryAll, bins: cs.bins, layers: 1, heads: H, chunks: nChunks)
        let cProf = PositionProfileObserver(stage: .global, rows: .context, bins: cs.bins, layers: 1, heads: H, chunks: nChunks)
        let stats = RowStatsObserver(stage: .global, rows: .queryAll, layers: 1, heads: H, chunks: nChunks)
        let keys = KeyScoreObserver(stage: .global, lastRows: cs.lastR, layers: 1, heads: H)
        let observers: [AttentionObserver] = [qAll, qLast, cAbs, cRel, prof, cProf, stats, keys]
        var out = [Float](repeating: 0, count: N * H * d)
        let kernel = AttentionKernel(config: config, workers: 2)
        for o in observers { XCTAssertTrue(o.begin(scope: scope, workers: 2)) }
        Q.withUnsafeBufferPointer { qp in out.withUnsafeMutableBufferPointer { op in
            kernel.run(layer: 0, q: qp.baseAddress!, rows: N, cache: cache, layout: AttentionLayout(segments: segs), firstRowKey: 0,
                       out: op.baseAddress!, observers: observers, scope: scope)
        } }
        for o in observers { o.end() }

        // Naive reference in float64.
        var P = Array(repeating: Array(repeating: 0.0, count: N), count: H * N)   // [h*N + row][key]
        var refOut = [Double](repeating: 0, count: N * H * d)
        var entropy = [Double](repeating: 0, count: H * N), maxP = entropy
        for h in 0..<H {
            let g = h / G
            for r in 0..<N {
                let lo = r < off ? spans.first { $0.contains(r) }!.lowerBound : 0
                var s = [Double](repeating: -.infinity, count: N)
                for k in lo...r where kept[h][k] || k >= off {
                    var dot = 0.0
                    for i in 0..<d { dot += Double(Q[r * H * d + h * d + i]) * Double(K[k * Hkv * d + g * d + i]) }
                    s[k] = dot / Double(d).squareRoot()
                }
                let m = s.max()!
                guard m > -.infinity else { continue }
                let z = s.reduce(0.0) { $0 + ($1 == -.infinity ? 0 : exp($1 - m)) }
                var ent = 0.0
                for k in 0..<N where s[k] > -.infinity {
                    let p = exp(s[k] - m) / z
                    P[h * N + r][k] = p
                    if p > 0 { ent -= p * log(p) }
                    for i in 0..<d { refOut[r * H * d + h * d + i] += p * Double(V[k * Hkv * d + g * d + i]) }
                }
                entropy[h * N + r] = ent; maxP[h * N + r] = 1 / z
            }
        }
        let tol = 1e-6
        for i in 0..<out.count { XCTAssertEqual(Double(out[i]), refOut[i], accuracy: 1e-5, "output \(i) trial \(trial)") }
        func bands(_ span: Range<Int>, _ L: Int) -> [Range<Int>] {
            let s = min(cs.S, L)
            let a = span.lowerBound
            return [a..<(a + s), (a + s)..<(a + max(L - cs.R, s)), (a + max(L - cs.R, s))..<(a + L)]
        }
        func sum(_ h: Int, _ r: Int, _ keys: Range<Int>) -> Double { keys.reduce(0.0) { $0 + P[h * N + r][$1] } }
        // Query rows.
        for (obs, rows) in [(qAll, off..<N), (qLast, max(off, N - cs.lastR)..<N)] {
            let got = obs.bandMass(), gotSelf = obs.queryMass()
            for h in 0..<H {
                for (j, span) in spans.enumerated() {
                    for (bi, br) in bands(span, span.count).enumerated() {
                        let want = rows.reduce(0.0) { $0 + sum(h, $1, br) } / Double(rows.count)
                        XCTAssertEqual(Double(got[(h * nChunks + j) * 3 + bi]), want, accuracy: tol, "trial \(trial) band \(bi) chunk \(j) head \(h)")
                    }
                }
                let wantSelf = rows.reduce(0.0) { $0 + sum(h, $1, off..<N) } / Double(rows.count)
                XCTAssertEqual(Double(gotSelf[h]), wantSelf, accuracy: tol)
            }
        }
        // Context rows, absolute and relative binning.
        for (obs, relative) in [(cAbs, false), (cRel, true)] {
            let got = obs.bandMass()
            for h in 0..<H {
                for (j, span) in spans.enumerated() {
                    var acc = [0.0, 0.0, 0.0]
                    for r in span {
                        let L = relative ? r - span.lowerBound + 1 : span.count
                        for (bi, br) in bands(span, L).enumerated() { acc[bi] += sum(h, r, br) }
                    }
                    for bi in 0..<3 { XCTAssertEqual(Double(got[(h * nChunks + j) * 3 + bi]), acc[bi] / Double(span.count), accuracy: tol) }
                }
            }
        }
        // Positional profiles.
        for (obs, isQuery) in [(prof, true), (cProf, false)] {
            let got = obs.profile()
            for h in 0..<H {
                for (j, span) in spans.enumerated() {
                    let rows = isQuery ? off..<N : span
                    for t in 0..<cs.bins {
                        var want = 0.0
                        for r in rows { for k in span where (k - span.lowerBound) * cs.bins / span.count == t { want += P[h * N + r][k] } }
                        XCTAssertEqual(Double(got[(h * nChunks + j) * cs.bins + t]), want / Double(rows.count), accuracy: tol, "profile bin \(t)")
                    }
                }
            }
        }
        // Entropy and max probability of query rows.
        let (e, m) = stats.means()
        for h in 0..<H {
            let rows = off..<N
            XCTAssertEqual(Double(e[h]), rows.reduce(0.0) { $0 + entropy[h * N + $1] } / Double(rows.count), accuracy: 1e-5)
            XCTAssertEqual(Double(m[h]), rows.reduce(0.0) { $0 + maxP[h * N + $1] } / Double(rows.count), accuracy: tol)
        }
        // Per-key scores of the last r query rows.
        for h in 0..<H {
            let got = Array(keys.scores(layer: 0, head: h))
            XCTAssertEqual(got.count, N)
            for k in 0..<N {
                let want = (max(off, N - cs.lastR)..<N).reduce(0.0) { $0 + P[h * N + $1][k] }
                XCTAssertEqual(Double(got[k]), want, accuracy: tol)
            }
        }
    }
}
