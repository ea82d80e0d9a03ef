import XCTest
import PCInference

/// The model against the float64 reference in ../shared/golden/logits.json.
final class GoldenLogitsTests: XCTestCase {
    func testTop20LogitsOfBothPrompts() throws {
        let model = try Fixtures.model()
        let golden = try Fixtures.golden("logits.json")
        let prompts = golden["prompts"] as! [[String: Any]]
        XCTAssertEqual(prompts.count, 2)
        for p in prompts {
            let ids = (p["ids"] as! [NSNumber]).map(\.intValue)
            let cache = model.makeCache()
            let logits = try model.forward(tokens: ids, positions: Array(0..<ids.count), cache: cache, logitRows: [ids.count - 1])
            let topIDs = (p["top20_ids"] as! [NSNumber]).map(\.intValue)
            let topLogits = (p["top20_logits"] as! [NSNumber]).map(\.doubleValue)
            var worst = 0.0
            for (id, want) in zip(topIDs, topLogits) {
                worst = max(worst, abs(Double(logits[id]) - want))
                XCTAssertEqual(Double(logits[id]), want, accuracy: 2e-3, "logit of token \(id)")
            }
            let lse = logSumExp(logits)
            XCTAssertEqual(lse, (p["logsumexp"] as! NSNumber).doubleValue, accuracy: 2e-3)
            // The argmax must agree with the reference's top token.
            let argmax = logits.indices.max { logits[$0] < logits[$1] }!
            XCTAssertEqual(argmax, topIDs[0])
            print("prompt of \(ids.count) tokens: worst top-20 logit error \(worst)")
        }
    }

    func testGreedyContinuationsMatch() throws {
        let model = try Fixtures.model()
        let prompts = (try Fixtures.golden("logits.json"))["prompts"] as! [[String: Any]]
        for p in prompts {
            let ids = (p["ids"] as! [NSNumber]).map(\.intValue)
            let want = (p["greedy10_ids"] as! [NSNumber]).map(\.intValue)
            let got = try Generator(model: model).greedy(prompt: ids, maxTokens: 10, stopTokens: [2])
            XCTAssertEqual(got, want)
        }
    }

    func testPassagePerplexity() throws {
        let model = try Fixtures.model()
        let ids = try passageIDs()
        let nll = try Perplexity.meanNLL(model: model, tokens: ids)
        let want = 3.0845718
        XCTAssertEqual(nll, want, accuracy: 0.002, "mean NLL")   // perplexity within 0.2% is NLL within log(1.002)
        XCTAssertEqual(exp(nll), 21.858106, accuracy: 21.858106 * 0.002)
    }

    private func logSumExp(_ x: [Float]) -> Double {
        let m = Double(x.max()!)
        return m + log(x.reduce(0.0) { $0 + exp(Double($1) - m) })
    }

    /// Token ids of passage.txt; uses the tokenizer when it is available.
    private func passageIDs() throws -> [Int] {
        let text = try String(contentsOf: Fixtures.goldenDir.appendingPathComponent("passage.txt"), encoding: .utf8)
        let tok = try Tokenizer(gguf: GGUFFile(path: Fixtures.modelPath()))
        let ids = tok.encode(text, parseSpecial: false, addBOS: false)
        XCTAssertEqual(ids.count, 979)
        return ids
    }
}
