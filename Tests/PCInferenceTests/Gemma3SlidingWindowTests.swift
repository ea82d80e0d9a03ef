import XCTest
import PCInference

/// The sliding-window kernel against a naive float64 reference on random small layouts where the
/// window binds: plain causal runs (arithmetic first visible key) and combined caches of chunks that
/// restart at position 0 with the query after the longest chunk (scanned first visible key).
final class Gemma3SlidingWindowTests: XCTestCase {
    func testWindowByPositionAgreesWithNaiveReference() throws {
        var rng = SplitMix64(seed: 11)
        for trial in 0..<40 {
            let causal = trial % 4 == 0
            let chunkLens = causal ? [Int.random(in: 20...150, using: &rng)]
                : (0..<Int.random(in: 1...4, using: &rng)).map { _ in [1, 3, 7, 13, 33, 70, 131].randomElement(using: &rng)! }
            try check(chunkLens: chunkLens, queryLen: causal ? 0 : Int.random(in: 1...9, using: &rng),
                      window: [1, 2, 5, 9, 17, 40, 100].randomElement(using: &rng)!, kvHeads: [1, 2].randomElement(using: &rng)!,
                      rng: &rng, trial: trial)
        }
    }

    /// Calibration during a pass on a local layer: keys evicted while the pass runs, under both
    /// alignments, with the window binding. Under the official (bottom-right) alignment a row sees
    /// the first (present keys of its segment up to its own) − e survivors, counted from the
    /// segment's first key, and then only those inside its window; so a key that fell out of the
    /// window still counts, and the answer cannot depend on how rows are blocked.
    func testWindowWithPassEvictionsAgreesWithNaiveReference() throws {
        var rng = SplitMix64(seed: 23)
        var hidden = 0   // trials where a key evicted in the pass lay outside some masked row's window
        for trial in 0..<48 {
            let causal = trial % 2 == 0
            let chunkLens = causal ? [Int.random(in: 70...220, using: &rng)]
                : (0..<Int.random(in: 1...3, using: &rng)).map { _ in [7, 33, 70, 131].randomElement(using: &rng)! }
            let evictions: EvictionAlignment = trial % 4 < 2 ? .bottomRight : .masked
            let case_ = try check(chunkLens: chunkLens, queryLen: causal ? 0 : Int.random(in: 1...9, using: &rng),
                                  window: [3, 9, 17, 40].randomElement(using: &rng)!, kvHeads: [1, 2].randomElement(using: &rng)!,
                                  rng: &rng, trial: trial, evictions: evictions)
            if case_ && evictions == .bottomRight { hidden += 1 }
        }
        XCTAssertGreaterThanOrEqual(hidden, 12, "too few official-alignment trials put a pass eviction outside a row's window")
    }

    /// Returns whether some masked row had a key evicted in the pass outside its window.
    @discardableResult
    func check(chunkLens: [Int], queryLen: Int, window: Int, kvHeads Hkv: Int, rng: inout SplitMix64, trial: Int,
               evictions: EvictionAlignment? = nil) throws -> Bool {
        let d = 8, H = Hkv * 2, G = 2
        var config = ModelConfig(layerCount: 1, embeddingLength: H * d, headCount: H, kvHeadCount: Hkv, headDim: d, feedForwardLength: 8, vocabSize: 8)
        config.gemma3 = Gemma3Config(slidingWindow: window, headDim: d, embeddingLength: H * d)   // layer 0 is local
        var spans: [Range<Int>] = []
        var off = 0
        for L in chunkLens { spans.append(off..<(off + L)); off += L }
        let N = off + queryLen, Lmax = chunkLens.max()!
        var pos = spans.flatMap { Array(0..<$0.count) }
        pos += (0..<queryLen).map { Lmax + $0 }
        func rand(_ n: Int) -> [Float] { (0..<n).map { _ in Float(Double(rng.next() >> 11) / Double(1 << 53) * 4 - 2) } }
        let Q = rand(N * H * d), K = rand(N * Hkv * d), V = rand(N * Hkv * d)

        // One block per chunk (positions 0..L-1 by default), one for the query at Lmax + j.
        let cache = KVCache(config: config)
        for span in spans {
            let b = KVBlock(layers: 1, kvHeads: Hkv, headDim: d, capacity: span.count)
            K.withUnsafeBufferPointer { kp in V.withUnsafeBufferPointer { vp in
                b.write(layer: 0, at: 0, k: kp.baseAddress! + span.lowerBound * Hkv * d, v: vp.baseAddress! + span.lowerBound * Hkv * d, rows: span.count)
            } }
            cache.appendWhole(b, count: span.count)
        }
        if queryLen > 0 {
            let tail = cache.reserve(queryLen)
            K.withUnsafeBufferPointer { kp in V.withUnsafeBufferPointer { vp in
                tail.write(layer: 0, at: 0, k: kp.baseAddress! + off * Hkv * d, v: vp.baseAddress! + off * Hkv * d, rows: queryLen)
            } }
            for j in 0..<queryLen { tail.positions[j] = Int32(Lmax + j) }
            cache.commitAppend(queryLen)
        }
        var segs = spans.map { AttentionLayout.Segment(rows: $0, keyStart: $0.lowerBound) }
        if queryLen > 0 { segs.append(.init(rows: off..<N, keyStart: 0)) }
        // Evictions (one random set per head): sink-band keys, a few middle keys and recent keys.
        // In a combined cache only the query rows are the pass (maskRowStart), as in question-stage
        // calibration; a single chunk is a chunk pass whose every row is masked.
        var masks: [[UInt8]] = Array(repeating: Array(repeating: 1, count: N), count: H)
        if let evictions {
            cache.alignment = evictions
            cache.maskRowStart = queryLen > 0 ? off : 0
            let pool = queryLen > 0 ? off : N
            for h in 0..<H {
                var keys = Set((0..<Int.random(in: 0...4, using: &rng)).map { $0 })
                for _ in 0..<Int.random(in: 0...6, using: &rng) { keys.insert(Int.random(in: 0..<pool, using: &rng)) }
                if Bool.random(using: &rng) { keys.formUnion((max(0, pool - 5))..<pool) }
                var settled: [Int] = []
                if Bool.random(using: &rng) { settled = [Int.random(in: 0..<pool, using: &rng)]; keys.subtract(settled) }
                cache.evict(layer: 0, head: h, keys: settled, covering: N)
                cache.evict(layer: 0, head: h, keys: keys.sorted(), covering: N, duringPass: evictions == .bottomRight)
                for k in settled { masks[h][k] = 0 }
                for k in keys { masks[h][k] = evictions == .bottomRight ? 2 : 0 }
            }
        }
        let scope = ObservationScope(stage: .global, chunkSpans: spans, chunkIDs: Array(0..<spans.count), queryKeyStart: off,
                                     queryRowStart: off, queryRowCount: queryLen, firstRowKey: 0)
        let ctxStats = RowStatsObserver(stage: .global, rows: .context, layers: 1, heads: H, chunks: spans.count)
        // Observers that read a query row chunk by chunk must see only the columns the row
        // scored: on a windowed layer the block starts at the window, not at the chunk.
        let conc = ConcentrationObserver(stage: .global, layers: 1, heads: H)
        var out = [Float](repeating: 0, count: N * H * d)
        let kernel = AttentionKernel(config: config, workers: 2)
        XCTAssertTrue(ctxStats.begin(scope: scope, workers: 2))
        XCTAssertTrue(conc.begin(scope: scope, workers: 2))
        Q.withUnsafeBufferPointer { qp in out.withUnsafeMutableBufferPointer { op in
            kernel.run(layer: 0, q: qp.baseAddress!, rows: N, cache: cache, layout: AttentionLayout(segments: segs), firstRowKey: 0,
                       out: op.baseAddress!, observers: [ctxStats, conc], scope: scope)
        } }
        ctxStats.end(); conc.end()
        // Reference concentration per head: over query rows x chunks, the share of the chunk's keys
        // above 1/w and 4/w, and the mass of its top 1 % keys (keys a row does not see count as 0).
        var refAbove = [[Double]](repeating: [0, 0], count: H), refTop = [Double](repeating: 0, count: H), refN = [Double](repeating: 0, count: H)

        // Reference: the PCW/causal mask, then the window by RoPE position.
        var evictedOutsideWindow = false
        var refOut = [Double](repeating: 0, count: N * H * d)
        for h in 0..<H {
            let g = h / G
            for r in 0..<N {
                let lo = r < off ? spans.first { $0.contains(r) }!.lowerBound : 0
                // Which keys the row sees after evictions (all of lo...r when none apply).
                var sees = [Bool](repeating: true, count: r + 1)
                if evictions != nil && r >= cache.maskRowStart {
                    let m = masks[h]
                    if evictions == .bottomRight {
                        let e = m.filter { $0 == 2 }.count
                        let present = (lo...r).filter { m[$0] != 0 }.count
                        var allowed = present - e
                        for k in lo...r {
                            if m[k] == 1 && allowed > 0 { allowed -= 1 } else { sees[k] = false }
                        }
                    } else {
                        for k in lo...r where m[k] != 1 { sees[k] = false }
                    }
                }
                if evictions != nil && r >= cache.maskRowStart && (lo...r).contains(where: { masks[h][$0] == 2 && pos[r] - pos[$0] >= window }) {
                    evictedOutsideWindow = true
                }
                var s: [(Int, Double)] = []
                for k in lo...r where pos[r] - pos[k] < window && sees[k] {
                    var dot = 0.0
                    for i in 0..<d { dot += Double(Q[r * H * d + h * d + i]) * Double(K[k * Hkv * d + g * d + i]) }
                    s.append((k, dot / Double(d).squareRoot()))
                }
                let m = s.map(\.1).max() ?? 0
                let z = s.reduce(0.0) { $0 + exp($1.1 - m) }
                for (k, v) in s {
                    for i in 0..<d { refOut[r * H * d + h * d + i] += exp(v - m) / z * Double(V[k * Hkv * d + g * d + i]) }
                }
                if r >= off {   // a row that sees nothing is all zeros, and still a row
                    var prob = [Double](repeating: 0, count: N)
                    for (k, v) in s { prob[k] = exp(v - m) / z }
                    for span in spans {
                        let w = span.count, vals = span.map { prob[$0] }
                        for (mi, c) in [1.0, 4.0].enumerated() { refAbove[h][mi] += Double(vals.filter { $0 > c / Double(w) }.count) / Double(w) }
                        refTop[h] += vals.sorted(by: >).prefix(max(1, (w + 99) / 100)).reduce(0, +)
                        refN[h] += 1
                    }
                }
            }
        }
        var worst = 0.0
        for i in 0..<out.count { worst = max(worst, abs(Double(out[i]) - refOut[i])) }
        XCTAssertLessThan(worst, 1e-5, "trial \(trial): chunks \(chunkLens), query \(queryLen), window \(window), evictions \(String(describing: evictions))")
        let cm = conc.means()
        for h in 0..<H where refN[h] > 0 {
            for mi in 0..<2 {
                XCTAssertEqual(Double(cm.above[mi][h]), refAbove[h][mi] / refN[h], accuracy: 1e-4, "trial \(trial) head \(h): share above, window \(window)")
            }
            XCTAssertEqual(Double(cm.top1[h]), refTop[h] / refN[h], accuracy: 1e-4, "trial \(trial) head \(h): top-1 % mass, window \(window)")
        }
        return evictedOutsideWindow
    }
}
