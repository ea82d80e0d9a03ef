import Foundation
import XCTest
import PCInference

/// Gemma 3 logits and perplexity against shared/golden/gemma3 (float64 reference). Tolerances are the
/// golden README's for a float32 implementation: logits 1e-3 absolute, perplexity 0.2 %.
final class Gemma3LogitsTests: XCTestCase {
    func logsumexp(_ row: ArraySlice<Float>) -> Double {
        let m = Double(row.max()!)
        return m + log(row.reduce(0.0) { $0 + exp(Double($1) - m) })
    }

    func testGoldenLogits() throws {
        let (model, tok) = try Gemma3Fixtures.model()
        let prompts = try Gemma3Fixtures.golden("logits.json")["prompts"] as! [[String: Any]]
        for (n, p) in prompts.enumerated() {
            let ids = (p["ids"] as! [NSNumber]).map(\.intValue)
            XCTAssertEqual(tok.encode(p["text"] as! String), ids, "prompt \(n) ids")
            let cache = model.makeCache()
            let logits = try model.forward(tokens: ids, positions: Array(0..<ids.count), cache: cache, logitRows: [ids.count - 1])
            let top = (p["top20_ids"] as! [NSNumber]).map(\.intValue)
            let want = (p["top20_logits"] as! [NSNumber]).map(\.doubleValue)
            Gemma3Fixtures.assertClose(top.map { Double(logits[$0]) }, want, 1e-3, "prompt \(n) (\(ids.count) tokens) top-20 logits")
            Gemma3Fixtures.assertClose([logsumexp(logits[...])], [(p["logsumexp"] as! NSNumber).doubleValue], 1e-3, "prompt \(n) logsumexp")
            XCTAssertEqual(logits.indices.max { logits[$0] < logits[$1] }, top[0], "prompt \(n) argmax")
            // Greedy decoding on the same cache (the prefill above is its first step).
            var greedy: [Int] = [], row = logits
            while greedy.count < 10 {
                let next = row.indices.max { row[$0] < row[$1] }!
                greedy.append(next)
                if next == 1 || next == 106 { break }
                row = try model.forward(tokens: [next], positions: [ids.count + greedy.count - 1], cache: cache, logitRows: [0])
            }
            XCTAssertEqual(greedy, (p["greedy10_ids"] as! [NSNumber]).map(\.intValue), "prompt \(n) greedy tokens")
        }
    }

    /// passage.txt in one causal pass (956 tokens, so the window binds from row 512 on).
    func testGoldenPerplexity() throws {
        let (model, tok) = try Gemma3Fixtures.model()
        let g = try Gemma3Fixtures.golden("ppl.json")
        let text = try String(contentsOf: Fixtures.goldenDir.appendingPathComponent("passage.txt"), encoding: .utf8)
        let ids = tok.encode(text)
        XCTAssertEqual(ids.count, (g["n_tokens"] as! NSNumber).intValue)
        let rows = Array(0..<(ids.count - 1))
        let hidden = try model.forwardHidden(tokens: ids, positions: Array(0..<ids.count), cache: model.makeCache(), hiddenRows: rows)
        let D = model.config.embeddingLength, V = model.config.vocabSize
        var nll: [Double] = []
        var b = 0
        while b < rows.count {
            let nb = min(256, rows.count - b)   // large batches: each one dequantises the tied embedding once
            let logits = hidden.withUnsafeBufferPointer { model.logits(hidden: $0.baseAddress! + b * D, rows: nb) }
            for i in 0..<nb { nll.append(Perplexity.logSoftmax(logits[(i * V)..<((i + 1) * V)], ids[b + i + 1])) }
            b += nb
        }
        let wantNLL = (g["nll"] as! [NSNumber]).map(\.doubleValue)
        Gemma3Fixtures.assertClose(nll, wantNLL, 1e-2, "per-token NLL")
        let ppl = exp(nll.reduce(0, +) / Double(nll.count)), want = (g["ppl"] as! NSNumber).doubleValue
        print("gemma3 passage perplexity \(ppl) vs \(want): relative error \(abs(ppl / want - 1))")
        XCTAssertLessThanOrEqual(abs(ppl / want - 1), 0.002)
    }
}
