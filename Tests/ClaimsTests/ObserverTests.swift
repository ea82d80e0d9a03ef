import ProbeAnalysis
import PCInference
import XCTest

/// The observers the claims read, fed synthetic attention blocks (what the kernel hands them).
final class ObserverTests: XCTestCase {
    /// Feeds `rows` (each a probability row over keys 0 ..< rowKey+1) to `obs` as one block of
    /// layer 0, head 0, in a one-chunk pass `span`.
    func feed(_ obs: AttentionObserver, stage: AttentionStage, span: Range<Int>, query: Range<Int>, rows: [(key: Int, p: [Float])], isQuery: Bool) {
        let scope = ObservationScope(stage: stage, chunkSpans: [span], chunkIDs: [0], queryKeyStart: query.lowerBound,
                                     queryRowStart: query.lowerBound, queryRowCount: query.count, firstRowKey: rows[0].key)
        XCTAssertTrue(obs.begin(scope: scope, workers: 1))
        let ld = query.upperBound
        var probs = [Float](repeating: 0, count: rows.count * ld)
        for (i, r) in rows.enumerated() { for (j, v) in r.p.enumerated() { probs[i * ld + j] = v } }
        let maxP = rows.map { $0.p.max() ?? 0 }
        let ent = rows.map { r in -r.p.reduce(Float(0)) { $0 + ($1 > 0 ? $1 * log($1) : 0) } }
        probs.withUnsafeBufferPointer { pp in maxP.withUnsafeBufferPointer { mp in ent.withUnsafeBufferPointer { ep in
            let b = AttentionBlock.synthetic(layer: 0, head: 0, worker: 0, scope: scope, isQuery: isQuery, firstRow: rows[0].key, rowCount: rows.count,
                                   keyStart: 0, probs: pp.baseAddress!, ld: ld, entropy: ep.baseAddress!, maxProb: mp.baseAddress!)
            obs.observe(b)
        } } }
        obs.end()
    }

    /// A row spread evenly over 4 of a 200-key chunk: 2 % of the keys are above 1/w and 4/w,
    /// and the top 1 % (2 keys) hold half the mass.
    func testConcentrationObserver() {
        let w = 200
        var p = [Float](repeating: 0, count: w + 1)
        for k in [3, 50, 120, 199] { p[k] = 0.25 }
        let obs = ConcentrationObserver(stage: .local, layers: 1, heads: 1)
        feed(obs, stage: .local, span: 0..<w, query: w..<(w + 1), rows: [(w, p)], isQuery: true)
        let m = obs.means()
        XCTAssertEqual(m.above[0][0], 0.02, accuracy: 1e-6)
        XCTAssertEqual(m.above[1][0], 0.02, accuracy: 1e-6)
        XCTAssertEqual(m.top1[0], 0.5, accuracy: 1e-6)
    }

    /// Rows normalised over the keys they see, with exponential decay: a row near the chunk's
    /// start has larger probabilities at every distance. The all-rows profile is bent by them;
    /// the full-reach profile is exactly exponential (and T12 calls it so).
    func testDistanceProfiles() {
        let n = 120, D = 30, a = 0.1
        let rows: [(key: Int, p: [Float])] = (0..<n).map { i in
            let raw = (0...i).map { exp(-a * Double(i - $0)) }
            let s = raw.reduce(0, +)
            return (i, raw.map { Float($0 / s) })
        }
        let all = DistanceProfileObserver(stage: .local, maxDistance: D, skipSink: 0, layers: 1, heads: 1)
        feed(all, stage: .local, span: 0..<n, query: n..<(n + 1), rows: rows, isQuery: false)
        let full = FullReachProfile(maxDistance: D, skip: 0, layers: 1, heads: 1)
        feed(full, stage: .local, span: 0..<n, query: n..<(n + 1), rows: rows, isQuery: false)
        let fp = full.profile(), ap = all.profile().map(Double.init)
        // Full reach: every ratio between neighbouring distances is exp(-a).
        for d in 1..<D { XCTAssertEqual(fp[d] / fp[d - 1], exp(-a), accuracy: 1e-4) }
        XCTAssertEqual(ExponentialDecayClaim.exponentialBetter(fp), true)
        // All rows: short rows inflate small distances, so the profile falls faster than exp(-a) early on.
        XCTAssertLessThan(ap[1] / ap[0], exp(-a) - 1e-3)
    }

    /// Mean attention per key over the last r question rows of a global pass.
    func testQueryKeyMass() {
        let obs = QueryKeyMass(stage: .global, lastRows: 2, layers: 1, heads: 1)
        let rows: [(key: Int, p: [Float])] = [(4, [1, 0, 0, 0, 0]), (5, [0.5, 0.5, 0, 0, 0, 0]), (6, [0, 0, 0, 0, 0, 0, 1])]
        feed(obs, stage: .global, span: 0..<4, query: 4..<7, rows: rows, isQuery: true)
        let t = obs.tables[0]!
        XCTAssertEqual(t.keys, 7)
        XCTAssertEqual(Array(t.row(0)), [0.25, 0.25, 0, 0, 0, 0, 0.5])
    }
}
