import PCInference
import XCTest

/// `decodeRows`: one decode step for several sequences, each in its own cache, must give every
/// row the logits of its own one-token `forward`, bit for bit, on the real quantized models (the
/// few-rows kernels against the one-row kernels, per-row RoPE, per-row attention, Gemma 3's
/// sliding-window layers, and the shared-key attention of rows over the same leading slices,
/// `AttentionKernel.runSharedRows`). And `KVCache.fork`: forks of one prefilled context read its keys in
/// place, keep their masks and new keys to themselves, and leave the parent as it was.
final class DecodeRowsTests: XCTestCase {
    /// Three forks of one prefilled prompt, masked differently and fed prompts of different
    /// lengths, decode four steps side by side; twin forks decode the same tokens one by one.
    func check(_ model: LlamaModel, _ what: String) throws {
        let V = model.config.vocabSize, L = model.config.layerCount
        // 301 keys: the shared-key path's blocks (256 keys at d = 64, 64 at d = 256) and a tail
        // that is not a multiple of four.
        let prompt = Array((0..<301).map { 200 + $0 * 7 })
        let parent = model.makeCache()
        try model.forward(tokens: prompt, positions: Array(0..<prompt.count), cache: parent)
        let firstKey = Array(UnsafeBufferPointer(start: parent.keyRow(layer: 0, kvHead: 0, key: 5), count: model.config.headDim))
        // Per sequence: evicted keys on layer 1, then a question of its own length.
        let plans: [([Int], [Int])] = [([], [300]), ([3, 4, 5, 9, 260], [301, 302, 303]), (Array(10..<30), [304, 305])]
        func prepared() throws -> [(cache: KVCache, last: [Float], position: Int)] {
            try plans.map { evict, question in
                let c = parent.fork()
                for h in 0..<model.config.headCount { c.evict(layer: min(1, L - 1), head: h, keys: evict) }
                let p = prompt.count
                let logits = try model.forward(tokens: question, positions: Array(p..<(p + question.count)), cache: c,
                                               logitRows: [question.count - 1])
                return (c, logits, p + question.count)
            }
        }
        let together = try prepared(), alone = try prepared()
        var tokens = together.map { argmax($0.last) }
        var positions = together.map(\.position)
        for step in 0..<4 {
            let rows = try model.decodeRows(tokens: tokens, positions: positions, caches: together.map(\.cache))
            XCTAssertEqual(rows.count, plans.count * V)
            for i in plans.indices {
                let one = try model.forward(tokens: [tokens[i]], positions: [positions[i]], cache: alone[i].cache, logitRows: [0])
                let mine = Array(rows[(i * V)..<((i + 1) * V)])
                XCTAssertEqual(mine.map(\.bitPattern), one.map(\.bitPattern), "\(what): sequence \(i), step \(step)")
                tokens[i] = argmax(mine)
                positions[i] += 1
            }
        }
        // The sequences really differ, and the parent is untouched by its forks.
        XCTAssertEqual(Set(tokens).count > 1 || Set(together.map { $0.cache.count }).count > 1, true, what)
        XCTAssertEqual(parent.count, prompt.count, what)
        XCTAssertFalse(parent.hasMasks, what)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: parent.keyRow(layer: 0, kvHead: 0, key: 5), count: model.config.headDim)), firstKey, what)
        XCTAssertEqual(together.map { $0.cache.count }, plans.map { prompt.count + $0.1.count + 4 }, what)
    }

    func argmax(_ x: [Float]) -> Int { x.indices.max { x[$0] < x[$1] }! }

    func testSmolLM2RowsEqualOneRowPasses() throws {
        try check(try Fixtures.model(), "SmolLM2")
    }

    func testGemma3RowsEqualOneRowPasses() throws {
        try check(try Gemma3Fixtures.model().0, "Gemma 3")
    }

    /// One cache given to two rows would have both append to it: refused.
    func testOneCacheTwiceIsRefused() throws {
        let model = try Fixtures.model(), c = model.makeCache()
        try model.forward(tokens: [1, 2, 3], positions: [0, 1, 2], cache: c)
        XCTAssertThrowsError(try model.decodeRows(tokens: [5, 6], positions: [3, 3], caches: [c, c]))
        XCTAssertEqual(c.count, 3)
    }
}
