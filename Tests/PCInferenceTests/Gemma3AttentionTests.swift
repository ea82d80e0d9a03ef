import Foundation
import XCTest
import PCInference

/// Gemma 3 band masses (attn_mass.json, window never binds) and the parallel-chunk case where the
/// window binds by position (pcw_window.json), each as one pass over the parallel layout.
final class Gemma3AttentionTests: XCTestCase {
    /// [18][4][chunks][3] in golden order (sink, recent, middle) → flat in biasprobe order (sink, middle, recent).
    func bands(_ json: [String: Any], _ key: String) -> [Double] {
        let a = json[key] as! [[[[NSNumber]]]]
        var out: [Double] = []
        for l in a { for h in l { for c in h { out += [c[0].doubleValue, c[2].doubleValue, c[1].doubleValue] } } }
        return out
    }
    func flat2(_ json: [String: Any], _ key: String) -> [Double] { (json[key] as! [[NSNumber]]).flatMap { $0.map(\.doubleValue) } }

    /// Chunk rows see their own chunk, query rows see every chunk and the query.
    func pass(chunks: [[Int]], query: [Int]) -> (tokens: [Int], layout: AttentionLayout, scope: ObservationScope) {
        var segs: [AttentionLayout.Segment] = [], spans: [Range<Int>] = []
        var k = 0
        for c in chunks { segs.append(.init(rows: k..<(k + c.count), keyStart: k)); spans.append(k..<(k + c.count)); k += c.count }
        segs.append(.init(rows: k..<(k + query.count), keyStart: 0))
        let scope = ObservationScope(stage: .global, chunkSpans: spans, chunkIDs: Array(0..<chunks.count), queryKeyStart: k,
                                     queryRowStart: k, queryRowCount: query.count, firstRowKey: 0)
        return (chunks.flatMap { $0 } + query, AttentionLayout(segments: segs), scope)
    }

    func band(_ model: LlamaModel, _ rows: RowSelection, chunks: Int, _ binning: ChunkBinning = .absolute) -> BandMassObserver {
        BandMassObserver(stage: .global, rows: rows, sinkWidth: 4, recentWidth: 16, binning: binning,
                         layers: model.config.layerCount, heads: model.config.headCount, chunks: chunks)
    }

    func testGoldenAttentionMass() throws {
        let (model, _) = try Gemma3Fixtures.model()
        let g = try Gemma3Fixtures.golden("attn_mass.json")
        let chunks = (g["chunk_ids"] as! [[NSNumber]]).map { $0.map(\.intValue) }
        let (tokens, layout, scope) = pass(chunks: chunks, query: (g["query_ids"] as! [NSNumber]).map(\.intValue))
        let n = chunks.count
        let last = band(model, .queryLast(1), chunks: n), all = band(model, .queryAll, chunks: n)
        let abs = band(model, .context, chunks: n), rel = band(model, .context, chunks: n, .relative)
        let logits = try model.forward(tokens: tokens, positions: (g["positions"] as! [NSNumber]).map(\.intValue), cache: model.makeCache(),
                                       layout: layout, logitRows: [tokens.count - 1], observers: [last, all, abs, rel], scope: scope)
        func d(_ x: [Float]) -> [Double] { x.map(Double.init) }
        Gemma3Fixtures.assertClose(d(last.bandMass()), bands(g, "query_mass_last"), 1e-5, "attn_mass query_mass_last")
        Gemma3Fixtures.assertClose(d(all.bandMass()), bands(g, "query_mass_all"), 1e-5, "attn_mass query_mass_all")
        Gemma3Fixtures.assertClose(d(last.queryMass()), flat2(g, "query_self_last"), 1e-5, "attn_mass query_self_last")
        Gemma3Fixtures.assertClose(d(all.queryMass()), flat2(g, "query_self_all"), 1e-5, "attn_mass query_self_all")
        Gemma3Fixtures.assertClose(d(abs.bandMass()), bands(g, "prefill_abs"), 1e-5, "attn_mass prefill_abs")
        Gemma3Fixtures.assertClose(d(rel.bandMass()), bands(g, "prefill_rel"), 1e-5, "attn_mass prefill_rel")
        let ids = (g["last_query_top20_ids"] as! [NSNumber]).map(\.intValue)
        Gemma3Fixtures.assertClose(ids.map { Double(logits[$0]) }, (g["last_query_top20_logits"] as! [NSNumber]).map(\.doubleValue),
                                   1e-3, "attn_mass last query top-20 logits")
    }

    /// 3 chunks of 180 tokens at positions 0..179 and the query at 180..194: index distances reach
    /// 554 but position distances stay under 512, so the window must not hide any chunk key.
    func testGoldenParallelChunksWindowByPosition() throws {
        let (model, _) = try Gemma3Fixtures.model()
        let g = try Gemma3Fixtures.golden("pcw_window.json")
        let chunks = (g["chunk_ids"] as! [[NSNumber]]).map { $0.map(\.intValue) }
        let (tokens, layout, scope) = pass(chunks: chunks, query: (g["query_ids"] as! [NSNumber]).map(\.intValue))
        let last = band(model, .queryLast(1), chunks: chunks.count)
        let logits = try model.forward(tokens: tokens, positions: (g["positions"] as! [NSNumber]).map(\.intValue), cache: model.makeCache(),
                                       layout: layout, logitRows: [tokens.count - 1], observers: [last], scope: scope)
        let want = g["position"] as! [String: Any]
        let ids = (want["last_query_top20_ids"] as! [NSNumber]).map(\.intValue)
        Gemma3Fixtures.assertClose(ids.map { Double(logits[$0]) }, (want["last_query_top20_logits"] as! [NSNumber]).map(\.doubleValue),
                                   1e-3, "pcw_window top-20 logits")
        Gemma3Fixtures.assertClose(last.bandMass().map(Double.init), bands(want, "query_mass_last"), 1e-5, "pcw_window query_mass_last")
        Gemma3Fixtures.assertClose(last.queryMass().map(Double.init), flat2(want, "query_self_last"), 1e-5, "pcw_window query_self_last")
    }
}
