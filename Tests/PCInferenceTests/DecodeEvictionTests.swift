import XCTest
import PCInference

/// Decode-time eviction (official kv_cache_dynamic, spec section 3.3).
final class DecodeEvictionTests: XCTestCase {
    /// One step on a planted window: the new token's row is appended, the oldest row forgotten,
    /// the columns but the last `window` scored by the remaining rows' sum, and the weakest goes.
    func testOneStepOnAPlantedWindow() {
        // Window 2 over keys 10...13; kernel 1 (no pooling) so the sums decide alone.
        let state = DecodeEvictionState(window: 2, kernel: 1, layers: 1, heads: 1, columns: [[10, 11, 12, 13]],
                                        rows: [[0.1, 0.2, 0.3, 0.4,
                                                0.4, 0.1, 0.1, 0.4]])
        var p = [Float](repeating: 0, count: 15)
        p[10] = 0.5; p[12] = 0.05; p[13] = 0.05; p[14] = 0.4      // the new token (key 14) attends
        // Rows kept: [0.4, 0.1, 0.1, 0.4, 0] and the new one; candidates are keys 10, 11, 12 with
        // sums 0.9, 0.1, 0.15: key 11 goes; keys 13 and 14 are the last two and always stay.
        let gone = p.withUnsafeBufferPointer { state.step(layer: 0, head: 0, newKey: 14, p: $0.baseAddress!) }
        XCTAssertEqual(gone, [11])
        XCTAssertEqual(state.columns[0], [10, 12, 13, 14])   // best first, then the last window
        XCTAssertEqual(state.rows[0], [0.4, 0.1, 0.4, 0, 0.5, 0.05, 0.05, 0.4])
    }

    /// Through a model (the tiny test model: the counts hold for any weights): every head loses exactly one key per generated token after the
    /// first, so the cache stays at the size the question prefill left; the question's last
    /// `window` keys are never candidates; the answer equals a run without decode eviction up to
    /// the first step where an eviction can matter (the first generated token).
    func testCacheStaysAtItsSizeWhileDecoding() throws {
        let (model, tok) = try Fixtures.tinyModel()
        let text = try String(contentsOf: Fixtures.goldenDir.appendingPathComponent("passage.txt"), encoding: .utf8)
        var config = ParallelCompConfig()
        config.chunkTokens = 80; config.keepChunks = 2; config.maxNewTokens = 4
        config.compression = .init(capacity: 48, window: 4, kernel: 7, decodeEviction: true)
        let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: PromptFormat.forTokenizer(tok))
        let prep = try pc.prepare(context: String(text.prefix(1000)), question: "What is the passage about?")
        let r = try pc.run(prep)
        var plain = config; plain.compression?.decodeEviction = false
        let r0 = try ParallelCompPipeline(model: model, tokenizer: tok, config: plain, format: PromptFormat.forTokenizer(tok)).run(prep)
        XCTAssertEqual(r.answerIDs.first, r0.answerIDs.first)
        XCTAssertEqual(r.chunks.map(\.nll), r0.chunks.map(\.nll))
        let steps = r.answerIDs.count - 1   // the last generated token is never fed back
        XCTAssertGreaterThan(steps, 0)
        XCTAssertLessThanOrEqual(steps, 3)
        let S = r.combinedKeys, m = r.questionIDs.count
        let L = model.config.layerCount, H = model.config.headCount
        XCTAssertEqual(r.evictions.decode, Array(repeating: steps, count: L * H))
        let evicted = try XCTUnwrap(r.evictedDecode)
        for l in 0..<L {
            for h in 0..<H {
                XCTAssertEqual(evicted[l][h].count, steps)
                // The question's last key is among the last 4 columns for the first 3 steps.
                XCTAssertFalse(evicted[l][h].contains(S + m - 1), "layer \(l) head \(h)")
            }
        }
    }
}
