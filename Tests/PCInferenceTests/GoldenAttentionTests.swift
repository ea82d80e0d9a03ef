import XCTest
import PCInference

/// Band masses against ../shared/golden/attn_mass.json (3 chunks x 96 tokens + 16 query tokens,
/// S = 4, R = 16), computed by an independent float64 reference.
final class GoldenAttentionTests: XCTestCase {
    struct Golden {
        let chunks: [[Int]], query: [Int], positions: [Int]
        let json: [String: Any]
        /// [30][9][3][3] in golden order (sink, recent, middle) -> flat in biasprobe order (sink, middle, recent).
        func bands(_ key: String) -> [Double] {
            let a = json[key] as! [[[[NSNumber]]]]
            var out: [Double] = []
            for l in a { for h in l { for c in h { out += [c[0].doubleValue, c[2].doubleValue, c[1].doubleValue] } } }
            return out
        }
        func flat2(_ key: String) -> [Double] { (json[key] as! [[NSNumber]]).flatMap { $0.map(\.doubleValue) } }
    }

    func loadGolden() throws -> Golden {
        let j = try Fixtures.golden("attn_mass.json")
        return Golden(chunks: (j["chunk_ids"] as! [[NSNumber]]).map { $0.map(\.intValue) },
                      query: (j["query_ids"] as! [NSNumber]).map(\.intValue),
                      positions: (j["positions"] as! [NSNumber]).map(\.intValue), json: j)
    }


    /// The golden input as one pass: tokens, the layout (chunk rows see their chunk, query rows
    /// see everything) and the observation scope.
    func goldenPass(_ g: Golden) -> (tokens: [Int], layout: AttentionLayout, scope: ObservationScope) {
        let L = g.chunks[0].count, n = g.chunks.count, Q = g.query.count
        var segs = (0..<n).map { AttentionLayout.Segment(rows: (L * $0)..<(L * $0 + L), keyStart: L * $0) }
        segs.append(.init(rows: (n * L)..<(n * L + Q), keyStart: 0))
        let scope = ObservationScope(stage: .global, chunkSpans: (0..<n).map { (L * $0)..<(L * $0 + L) }, chunkIDs: Array(0..<n),
                                     queryKeyStart: n * L, queryRowStart: n * L, queryRowCount: Q, firstRowKey: 0)
        return (g.chunks.flatMap { $0 } + g.query, AttentionLayout(segments: segs), scope)
    }

    func assertClose(_ got: [Float], _ want: [Double], _ tol: Double, _ what: String) {
        XCTAssertEqual(got.count, want.count, what)
        var worst = 0.0
        for (g, w) in zip(got, want) { worst = max(worst, abs(Double(g) - w)) }
        XCTAssertLessThanOrEqual(worst, tol, "\(what): worst abs error \(worst)")
        print("\(what): worst abs error \(worst)")
    }

    /// One pass over the whole parallel layout: chunk rows see their own chunk, query rows see all.
    func testSinglePassLayoutMatchesGolden() throws {
        let model = try Fixtures.model()
        let g = try loadGolden()
        let c = model.config
        let n = g.chunks.count
        let (tokens, layout, scope) = goldenPass(g)
        func band(_ rows: RowSelection, _ binning: ChunkBinning = .absolute) -> BandMassObserver {
            BandMassObserver(stage: .global, rows: rows, sinkWidth: 4, recentWidth: 16, binning: binning,
                             layers: c.layerCount, heads: c.headCount, chunks: n)
        }
        let last = band(.queryLast(1)), all = band(.queryAll), abs = band(.context), rel = band(.context, .relative)
        let logits = try model.forward(tokens: tokens, positions: g.positions, cache: model.makeCache(),
                                       layout: layout, logitRows: [tokens.count - 1],
                                       observers: [last, all, abs, rel], scope: scope)
        assertClose(last.bandMass(), g.bands("query_mass_last"), 1e-5, "query_mass_last")
        assertClose(all.bandMass(), g.bands("query_mass_all"), 1e-5, "query_mass_all")
        assertClose(last.queryMass(), g.flat2("query_self_last"), 1e-5, "query_self_last")
        assertClose(all.queryMass(), g.flat2("query_self_all"), 1e-5, "query_self_all")
        assertClose(abs.bandMass(), g.bands("prefill_abs"), 1e-5, "prefill_abs")
        assertClose(rel.bandMass(), g.bands("prefill_rel"), 1e-5, "prefill_rel")
        // The last query row's logits.
        let ids = (g.json["last_query_top20_ids"] as! [NSNumber]).map(\.intValue)
        let want = (g.json["last_query_top20_logits"] as! [NSNumber]).map(\.doubleValue)
        assertClose(ids.map { logits[$0] }, want, 2e-3, "last_query_top20_logits")
    }

    /// Every row's masses (bands of every chunk plus the query's own) sum to 1.
    func testMassesSumToOnePerRow() throws {
        let model = try Fixtures.model()
        let g = try loadGolden()
        let c = model.config
        let n = g.chunks.count, Q = g.query.count
        let (tokens, layout, scope) = goldenPass(g)
        // One observer per query row index, so every row is checked on its own.
        let perRow = (1...Q).map { r in
            BandMassObserver(stage: .global, rows: .queryLast(r), sinkWidth: 4, recentWidth: 16, layers: c.layerCount, heads: c.headCount, chunks: n)
        }
        let ctx = BandMassObserver(stage: .global, rows: .context, sinkWidth: 4, recentWidth: 16, binning: .relative, layers: c.layerCount, heads: c.headCount, chunks: n)
        try model.forward(tokens: tokens, positions: g.positions, cache: model.makeCache(), layout: layout,
                          observers: perRow + [ctx], scope: scope)
        // The mean over the last r rows sums to 1 for every r, so each row does.
        for o in perRow {
            let b = o.bandMass(), s = o.queryMass()
            for lh in 0..<(c.layerCount * c.headCount) {
                let total = (0..<(n * 3)).reduce(0.0) { $0 + Double(b[lh * n * 3 + $1]) } + Double(s[lh])
                XCTAssertEqual(total, 1, accuracy: 1e-6)
            }
        }
        let b = ctx.bandMass()
        for lh in 0..<(c.layerCount * c.headCount) {
            for ch in 0..<n { XCTAssertEqual((0..<3).reduce(0.0) { $0 + Double(b[(lh * n + ch) * 3 + $1]) }, 1, accuracy: 1e-6) }
        }
    }
}
