import XCTest
import PCInference

/// Every lab policy against a direct float64 transcription of its reference code (kvpress
/// `kvpress/presses/*.py`, FasterDecoding/SnapKV, FMInference/H2O) on planted query and key
/// tensors shaped as SmolLM2's attention: 9 query heads over 3 KV heads. The lab receives what its
/// observers would hand it (window-row attention sums, per query head) and selects per KV head;
/// the transcription computes the reference's scores, group means and top-k itself.
final class EvictionReferenceTests: XCTestCase {
    let H = 9, Hkv = 3, d = 8

    /// Planted tensors: T tokens, queries [head][t][d], keys [kvHead][t][d]. A few keys get a
    /// large component so attention has peaks, as real heads do.
    struct Planted { var q: [[[Double]]]; var k: [[[Double]]]; var T: Int }

    func planted(T: Int, seed: UInt64) -> Planted {
        var rng = SplitMix64(seed: seed)
        func u() -> Double { Double(rng.next() >> 11) / Double(1 << 53) * 2 - 1 }
        let q = (0..<H).map { _ in (0..<T).map { _ in (0..<d).map { _ in u() * 1.5 } } }
        var k = (0..<Hkv).map { _ in (0..<T).map { _ in (0..<d).map { _ in u() } } }
        for g in 0..<Hkv { for t in stride(from: 3 + g, to: T, by: 11) { for j in 0..<d { k[g][t][j] *= 2.5 } } }
        return Planted(q: q, k: k, T: T)
    }

    /// Causal softmax attention of row r for query head h over keys 0...r (float64).
    func attention(_ p: Planted, head h: Int, row r: Int) -> [Double] {
        let g = h / (H / Hkv)
        let logits = (0...r).map { t in zip(p.q[h][r], p.k[g][t]).map(*).reduce(0, +) / Double(d).squareRoot() }
        let mx = logits.max()!, e = logits.map { Foundation.exp($0 - mx) }, z = e.reduce(0, +)
        return e.map { $0 / z } + Array(repeating: 0, count: p.T - 1 - r)
    }

    /// What the lab's observer hands a policy: per query head, attention summed over `rows`.
    func observed(_ p: Planted, rows: Range<Int>) -> [[Float]] {
        (0..<H).map { h in
            var s = [Double](repeating: 0, count: p.T)
            for r in rows { for (k, a) in attention(p, head: h, row: r).enumerated() { s[k] += a } }
            return s.map { Float($0) }
        }
    }

    /// torch's topk (descending; ties: the earlier index, as the lab breaks them) as a sorted set.
    func topk(_ s: [Double], _ n: Int) -> [Int] {
        Array(s.indices.sorted { s[$0] != s[$1] ? s[$0] > s[$1] : $0 < $1 }.prefix(n)).sorted()
    }

    /// The lab's kept keys per query head, the kvpress setting: every key of a pass of T is a
    /// candidate (nothing protected unless the policy's reference protects it).
    func labKept(_ lab: EvictionLabSettings, _ scores: [[Float]], T: Int, layer: Int = 0, layers: Int = 1, salt: UInt64 = 0) -> [[Int]] {
        let ranked = lab.ranked(candidates: T)
        let keep = lab.kept(layer: layer, layers: layers, candidates: T) - (T - ranked.count)
        let sel = lab.select(lab.policy(keep: keep, salt: salt, group: H / Hkv), ranked: ranked, first: 0, passEnd: T, scores: scores, group: H / Hkv)
        return sel.evicted.map { gone in (0..<T).filter { !gone.contains($0) } }
    }

    /// Per KV head -> the same set for its three query heads.
    func expand(_ perKV: [[Int]]) -> [[Int]] { (0..<H).map { perKV[$0 / (H / Hkv)] } }

    // MARK: SnapKV family

    /// kvpress `SnapKVPress.score` (and SnapKV's `update_kv`, whose sum ranks as the mean), per KV
    /// head: window rows' attention on the keys before the window, mean over rows, pooled with
    /// zero padding (avg: divided by the kernel) or -inf padding (max), mean over the group, the
    /// window keys padded with the maximum; n_kept = int(T x ratio).
    func snapkvReference(_ p: Planted, window w: Int, kernel: Int, pool: EvictionLabSettings.Pool, keep: Int) -> [[Int]] {
        let T = p.T, n = T - w, half = kernel / 2, G = H / Hkv
        let perHead: [[Double]] = (0..<H).map { h in
            var s = [Double](repeating: 0, count: n)
            for r in (T - w)..<T { let a = attention(p, head: h, row: r); for k in 0..<n { s[k] += a[k] / Double(w) } }
            return (0..<n).map { i -> Double in
                let nb: [Double] = ((i - half)...(i + half)).map { (j: Int) -> Double in
                    if j >= 0 && j < n { return s[j] }
                    return pool == .avg ? 0 : -Double.infinity
                }
                return pool == .avg ? nb.reduce(0, +) / Double(kernel) : nb.max()!
            }
        }
        return (0..<Hkv).map { g in
            var s = (0..<n).map { i in (0..<G).map { perHead[g * G + $0][i] }.reduce(0, +) / Double(G) }
            s += Array(repeating: s.max()! + 1, count: w)   // the window stays
            return topk(s, keep)
        }
    }

    func testSnapKVFamilyMatchesTheReferenceWithGroupAveraging() {
        for (kind, T, ratio) in [(EvictionLabSettings.Kind.snapkv, 160, 0.5), (.snapkvKvpress, 200, 0.75), (.pcSnapkv, 96, 0.25), (.snapkv, 130, 0.875)] {
            let lab = EvictionLabSettings(kind: kind, ratio: ratio)
            let p = planted(T: T, seed: UInt64(T))
            let ref = EvictionLabSettings.reference(kind)
            XCTAssertEqual([lab.window, lab.kernel, lab.sink], [ref.window, ref.kernel, 0])
            let keep = Int(Double(T) * ratio)
            let want = expand(snapkvReference(p, window: lab.window, kernel: lab.kernel, pool: lab.pool, keep: keep))
            let got = labKept(lab, observed(p, rows: (T - lab.window)..<T), T: T)
            XCTAssertEqual(got, want, "\(kind) T \(T) ratio \(ratio)")
            XCTAssertEqual(got.map(\.count), Array(repeating: keep, count: H))
        }
        XCTAssertEqual(EvictionLabSettings.reference(.snapkv).pool, .avg)
        XCTAssertEqual(EvictionLabSettings.reference(.snapkvKvpress).window, 64)
        XCTAssertEqual(EvictionLabSettings.reference(.pcSnapkv).pool, .max)
    }

    func testPerQueryHeadVariantSelectsPerHeadAndStoresMore() {
        let T = 160, p = planted(T: T, seed: 5)
        var lab = EvictionLabSettings(kind: .snapkv, ratio: 0.25)
        lab.perQueryHead = true
        let got = labKept(lab, observed(p, rows: (T - 32)..<T), T: T)
        // Each query head is its own group of one: the reference with G = 1 is the per-head top-k.
        let n = T - 32
        for h in 0..<H {
            var s = [Double](repeating: 0, count: n)
            for r in (T - 32)..<T { let a = attention(p, head: h, row: r); for k in 0..<n { s[k] += a[k] / 32 } }
            var pooled = [Double](repeating: 0, count: n)
            for i in 0..<n { for j in (i - 2)...(i + 2) where j >= 0 && j < n { pooled[i] += s[j] / 5 } }
            XCTAssertEqual(got[h], topk(pooled + Array(repeating: 1e9, count: 32), T / 4), "head \(h)")
        }
        // The union over a group is larger than the budget: per-query-head selection stores more KV.
        let union = (0..<Hkv).map { g in Set((0..<3).flatMap { got[g * 3 + $0] }).count }
        XCTAssertTrue(union.allSatisfy { $0 > T / 4 }, "\(union)")
    }

    // MARK: PyramidKV

    /// kvpress `PyramidKVPress.get_layer_budget`, transcribed.
    func pyramidReference(qLen: Int, cr: Double, window: Int, beta: Double, layers: Int, layer: Int) -> Int {
        let mcp = Double(window) + Double(qLen) * (1 - cr)
        var minNum = (mcp - Double(window)) / beta, maxNum = (mcp - Double(window)) * 2 - minNum
        if maxNum >= Double(qLen - window) { maxNum = Double(qLen - window); minNum = (mcp - Double(window)) * 2 - maxNum }
        if !(Double(qLen) >= maxNum && maxNum >= minNum && minNum >= Double(window)) { return Int((Double(qLen) * (1 - cr)).rounded(.toNearestOrEven)) }
        let steps = (maxNum - minNum) / Double(layers - 1)
        return Int((maxNum - Double(layer) * steps).rounded(.toNearestOrEven))
    }

    func testPyramidKVBudgetsAndSelectionMatchTheReference() {
        for (qLen, r, L) in [(4096, 0.5, 30), (4096, 0.25, 30), (4096, 0.875, 30), (2000, 0.75, 18), (300, 0.5, 30)] {
            let lab = EvictionLabSettings(kind: .pyramidkv, ratio: r)
            for l in 0..<L {
                XCTAssertEqual(lab.kept(layer: l, layers: L, candidates: qLen),
                               min(qLen, pyramidReference(qLen: qLen, cr: 1 - r, window: 64, beta: 20, layers: L, layer: l)), "q \(qLen) r \(r) layer \(l)")
            }
        }
        // 4K at 0.5: a real pyramid (bottom > top); at 0.25 the top would fall below the window: uniform.
        let half = EvictionLabSettings(kind: .pyramidkv, ratio: 0.5)
        XCTAssertGreaterThan(half.kept(layer: 0, layers: 30, candidates: 4096), half.kept(layer: 29, layers: 30, candidates: 4096))
        let quarter = EvictionLabSettings(kind: .pyramidkv, ratio: 0.25)
        XCTAssertEqual(quarter.kept(layer: 0, layers: 30, candidates: 4096), quarter.kept(layer: 29, layers: 30, candidates: 4096))
        // Selection: SnapKV's kvpress scores with the layer's budget.
        let T = 1500, p = planted(T: T, seed: 9), lab = EvictionLabSettings(kind: .pyramidkv, ratio: 0.875)
        XCTAssertGreaterThan(lab.kept(layer: 0, layers: 10, candidates: T), lab.kept(layer: 9, layers: 10, candidates: T))
        for l in [0, 5, 9] {
            let keep = lab.kept(layer: l, layers: 10, candidates: T)
            XCTAssertEqual(labKept(lab, observed(p, rows: (T - 64)..<T), T: T, layer: l, layers: 10),
                           expand(snapkvReference(p, window: 64, kernel: 5, pool: .avg, keep: keep)), "layer \(l)")
        }
    }

    // MARK: H2O, TOVA, StreamingLLM, KNorm, random

    /// FMInference/H2O `H2OKVCache_LayerWise`: attention summed over every row (unnormalised),
    /// the top `heavy` outside the last `recent` keys plus those; scores averaged over the group
    /// (kvpress's GQA convention; the original code is for multi-head attention).
    func testH2OMatchesHeavyPlusRecentHalves() {
        let T = 120, p = planted(T: T, seed: 3), G = H / Hkv
        for budget in [20, 31] {
            let lab = EvictionLabSettings(kind: .h2o, budget: budget)
            let sums: [[Double]] = (0..<H).map { h in
                var s = [Double](repeating: 0, count: T)
                for r in 0..<T { for (k, a) in attention(p, head: h, row: r).enumerated() { s[k] += a } }
                return s
            }
            let recent = budget / 2, heavy = budget - recent
            let want = (0..<Hkv).map { g -> [Int] in
                let s = (0..<(T - recent)).map { k in (0..<G).map { sums[g * G + $0][k] }.reduce(0, +) / Double(G) }
                return (topk(s, heavy) + Array((T - recent)..<T)).sorted()
            }
            XCTAssertEqual(labKept(lab, observed(p, rows: 0..<T), T: T), expand(want), "budget \(budget)")
        }
    }

    /// kvpress `TOVAPress.score`: the last row's attention averaged over every head of the layer,
    /// the last key kept.
    func testTOVAMatchesTheReference() {
        let T = 90, p = planted(T: T, seed: 4), keep = Int(Double(T) * 0.25)
        let rows = (0..<H).map { attention(p, head: $0, row: T - 1) }
        var s = (0..<(T - 1)).map { k in rows.map { $0[k] }.reduce(0, +) / Double(H) }
        s.append(s.max()! + 1)
        let want = Array(repeating: topk(s, keep), count: H)
        XCTAssertEqual(labKept(EvictionLabSettings(kind: .tova, ratio: 0.25), observed(p, rows: (T - 1)..<T), T: T), want)
    }

    /// kvpress `StreamingLLMPress.score`: ones, zeros on [n_sink, n_sink + n_pruned).
    func testStreamingLLMMatchesTheReference() {
        for (T, r) in [(100, 0.25), (77, 0.5), (64, 0.875)] {
            let nPruned = T - Int(Double(T) * r)
            let s = (0..<T).map { $0 >= 4 && $0 < 4 + nPruned ? 0.0 : 1.0 }
            let want = Array(repeating: topk(s, T - nPruned), count: H)
            XCTAssertEqual(labKept(EvictionLabSettings(kind: .streaming, ratio: r), Array(repeating: [], count: H), T: T), want, "T \(T) r \(r)")
        }
    }

    /// kvpress `KnormPress.score`: -||k|| per KV head.
    func testKNormMatchesTheReference() {
        let T = 80, p = planted(T: T, seed: 6), keep = T / 2
        let want = (0..<Hkv).map { g in topk(p.k[g].map { -($0.map { $0 * $0 }.reduce(0, +)).squareRoot() }, keep) }
        // The lab's signal: each query head reads its KV head's key norms.
        let norms = (0..<H).map { h in p.k[h / 3].map { Float(($0.map { $0 * $0 }.reduce(0, +)).squareRoot()) } }
        XCTAssertEqual(labKept(EvictionLabSettings(kind: .knorm, ratio: 0.5), norms, T: T), expand(want))
    }

    /// kvpress `RandomPress`: one uniform draw per KV head, so a group shares its set; the variant
    /// draws per query head.
    func testRandomDrawsPerKVHead() {
        let T = 200, lab = EvictionLabSettings(kind: .random, ratio: 0.25, seed: 11)
        let k = labKept(lab, Array(repeating: [], count: H), T: T, salt: 2)
        XCTAssertEqual(k.map(\.count), Array(repeating: 50, count: H))
        for g in 0..<Hkv { XCTAssertEqual(k[g * 3], k[g * 3 + 1]); XCTAssertEqual(k[g * 3], k[g * 3 + 2]) }
        XCTAssertNotEqual(k[0], k[3]); XCTAssertNotEqual(k[3], k[6])
        XCTAssertEqual(labKept(lab, Array(repeating: [], count: H), T: T, salt: 2), k)   // seeded
        var q = lab; q.perQueryHead = true
        let kq = labKept(q, Array(repeating: [], count: H), T: T, salt: 2)
        XCTAssertNotEqual(kq[0], kq[1])
    }

    /// Budgets: kvpress's n_kept = max(1, int(T x (1 - compression_ratio))), or an absolute count.
    func testBudgetsAsRatiosAndCounts() {
        for r in [0.25, 0.5, 0.75, 0.875] {
            for T in [1, 7, 100, 4093] {
                XCTAssertEqual(EvictionLabSettings(kind: .knorm, ratio: r).tokens(candidates: T), max(1, Int(Double(T) * (1 - (1 - r)))))
            }
        }
        XCTAssertEqual(EvictionLabSettings(kind: .knorm, budget: 128).kept(layer: 0, layers: 1, candidates: 1000), 128)
        XCTAssertEqual(EvictionLabSettings(kind: .streaming, budget: 128).sink, 4)
        XCTAssertEqual(EvictionLabSettings(kind: .h2o, budget: 128).sink, 0)
    }

    // MARK: ExpectedAttention

    /// kvpress `ExpectedAttentionPress` (n_future 512, n_sink 4, covariance and value norms on),
    /// transcribed in float64 from the attention input h and Wq: moments of h after the sinks,
    /// projected per head, the RoPE matrix of every future position built whole and averaged,
    /// softmax over the keys after the sinks, group mean, times ||v||, sinks at the maximum. The
    /// lab sees the queries q = h Wq^T in float32 (in two row blocks, as a pass hands them over)
    /// and selects per KV head.
    func testExpectedAttentionMatchesTheReference() {
        let T = 70, D = 16, sink = 4, future = 512, G = H / Hkv, theta = 10000.0
        var rng = SplitMix64(seed: 27)
        func u() -> Double { Double(rng.next() >> 11) / Double(1 << 53) * 2 - 1 }
        // Hidden rows with a common offset (a non-zero mean) and a few outlier sink rows.
        let offset = (0..<D).map { _ in u() }
        let h = (0..<T).map { t in (0..<D).map { j in offset[j] + u() * (t < sink ? 6 : 1) } }
        let wq = (0..<(H * d)).map { _ in (0..<D).map { _ in u() * 0.6 } }
        var k = (0..<Hkv).map { _ in (0..<T).map { _ in (0..<d).map { _ in u() } } }
        for g in 0..<Hkv { for t in stride(from: 5 + g, to: T, by: 9) { for j in 0..<d { k[g][t][j] *= 2.5 } } }
        let v = (0..<Hkv).map { _ in (0..<T).map { _ in (0..<d).map { j in u() * (1 + Double(j % 3)) } } }

        for style in [ModelConfig.RopeStyle.adjacentPairs, .halfSplit] {
            // Reference: moments of h[sink:], per-head projection.
            let rows = Array(h[sink...]), n = Double(rows.count)
            let meanH = (0..<D).map { j in rows.map { $0[j] }.reduce(0, +) / n }
            let sigma = (0..<D).map { a in (0..<D).map { b in rows.map { ($0[a] - meanH[a]) * ($0[b] - meanH[b]) }.reduce(0, +) / n } }
            // The average rotation, built as whole d x d matrices per position.
            var R = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
            for p in T..<(T + future) {
                for i in 0..<(d / 2) {
                    let a = Double(p) * Foundation.pow(theta, -2 * Double(i) / Double(d))
                    let (x, y) = style == .adjacentPairs ? (2 * i, 2 * i + 1) : (i, i + d / 2)
                    R[x][x] += Foundation.cos(a) / Double(future); R[x][y] -= Foundation.sin(a) / Double(future)
                    R[y][x] += Foundation.sin(a) / Double(future); R[y][y] += Foundation.cos(a) / Double(future)
                }
            }
            func mat(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
                a.map { row in b[0].indices.map { j in row.indices.map { row[$0] * b[$0][j] }.reduce(0, +) } }
            }
            func transpose(_ a: [[Double]]) -> [[Double]] { a[0].indices.map { j in a.map { $0[j] } } }
            var perHead: [[Double]] = []   // softmax x ||v|| over keys sink ..< T, per query head
            for qh in 0..<H {
                let W = Array(wq[(qh * d)..<((qh + 1) * d)])
                let mu = mat(R, mat(W, meanH.map { [$0] })).map { $0[0] }
                let cov = mat(mat(R, mat(mat(W, sigma), transpose(W))), transpose(R))
                let g = qh / G
                let logits = (sink..<T).map { t -> Double in
                    let kt = k[g][t]
                    let lin = zip(mu, kt).map(*).reduce(0, +) / Double(d).squareRoot()
                    let quad = (0..<d).map { a in (0..<d).map { b in kt[a] * cov[a][b] * kt[b] }.reduce(0, +) }.reduce(0, +)
                    return lin + quad / Double(d) / 2
                }
                let mx = logits.max()!, e = logits.map { Foundation.exp($0 - mx) }, z = e.reduce(0, +)
                let norms: [Double] = (sink..<T).map { t in v[g][t].map { $0 * $0 }.reduce(0, +).squareRoot() }
                perHead.append((0..<(T - sink)).map { i in e[i] / z * norms[i] })
            }
            let want = (0..<Hkv).map { g -> [Int] in
                var s = (0..<(T - sink)).map { i in (0..<G).map { perHead[g * G + $0][i] }.reduce(0, +) / Double(G) }
                s = Array(repeating: s.max()!, count: sink) + s
                return topk(s, T / 2)
            }

            // The lab: float32 queries in two blocks into the moments, scores per query head.
            let q: [Float] = h.flatMap { row in wq.map { w in Float(zip(w, row).map(*).reduce(0, +)) } }
            let moments = QueryMoments(layers: 1, heads: H, headDim: d, rows: sink..<T)
            q.withUnsafeBufferPointer { qb in
                moments.observeQueries(layer: 0, firstKey: 0, rows: 33, q: qb.baseAddress!)
                moments.observeQueries(layer: 0, firstKey: 33, rows: T - 33, q: qb.baseAddress! + 33 * H * d)
            }
            var config = ModelConfig(layerCount: 1, embeddingLength: D, headCount: H, kvHeadCount: Hkv, headDim: d, feedForwardLength: D, vocabSize: 8)
            config.ropeStyle = style
            let rotation = FutureRotation(config: config, positions: T..<(T + future))
            let kf = k.map { $0.flatMap { $0.map(Float.init) } }, vf = v.map { $0.flatMap { $0.map(Float.init) } }
            let scores: [[Float]] = (0..<H).map { qh in
                kf[qh / G].withUnsafeBufferPointer { kb in
                    vf[qh / G].withUnsafeBufferPointer { vb in
                        ExpectedAttention.scores(mean: moments.mean(layer: 0, head: qh), covariance: moments.covariance(layer: 0, head: qh),
                                                 rotation: rotation, keys: sink..<T, keyCount: T,
                                                 key: { kb.baseAddress! + $0 * d }, value: { vb.baseAddress! + $0 * d })
                    }
                }
            }
            for qh in 0..<H {
                for t in sink..<T {
                    let ref = perHead[qh][t - sink]
                    XCTAssertEqual(Double(scores[qh][t]), ref, accuracy: 1e-4 * ref, "\(style) head \(qh) key \(t)")
                }
            }
            let lab = EvictionLabSettings(kind: .expectedAttention, ratio: 0.5)
            XCTAssertEqual(lab.sink, sink)
            XCTAssertEqual(labKept(lab, scores, T: T), expand(want), "\(style)")
        }
    }
}
