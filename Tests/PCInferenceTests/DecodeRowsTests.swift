import PCInference
import XCTest

/// `decodeRows`: one decode step for several sequences, each in its own cache, must give every
/// row the logits of its own one-token `forward`, bit for bit, on the real quantized models (the
/// few-rows kernels against the one-row kernels, per-row RoPE, per-row attention, Gemma 3's
/// sliding-window layers, and the shared-key attention of rows over the same leading slices,
/// `AttentionKernel.runSharedRows`). And `KVCache.fork`: forks of one prefilled context read its
/// keys in place, keep their masks and new keys to themselves, and leave the parent as it was.
final class DecodeRowsTests: XCTestCase {
    func argmax(_ x: [Float]) -> Int { x.indices.max { x[$0] < x[$1] }! }

    func keys(_ c: KVCache, _ model: LlamaModel, key: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: c.keyRow(layer: 0, kvHead: 0, key: key), count: model.config.headDim))
    }

    /// A parent of `promptLength` prompt keys and one decoded key (so its last block has room
    /// left, which its forks must not write into), forked three ways: masked differently, fed
    /// questions of different lengths (so the rows sit at different positions), then four steps
    /// side by side; twin forks decode the same tokens one by one. Returns how many layer passes
    /// took the shared-key path.
    @discardableResult
    func check(_ model: LlamaModel, promptLength: Int, _ what: String) throws -> Int {
        let V = model.config.vocabSize, L = model.config.layerCount
        let prompt = Array((0..<promptLength).map { 200 + $0 * 7 })
        let parent = model.makeCache()
        try model.forward(tokens: prompt, positions: Array(0..<prompt.count), cache: parent)
        try model.forward(tokens: [999], positions: [prompt.count], cache: parent)   // a 256-row decode block, 1 used
        let p = parent.count, before = (0..<p).map { keys(parent, model, key: $0) }
        let plans: [([Int], [Int])] = [([], [300]), ([3, 4, 5, 9, 260], [301, 302, 303]), (Array(10..<30), [304, 305])]
        func prepared() throws -> [(cache: KVCache, last: [Float])] {
            try plans.map { evict, question in
                let c = parent.fork()
                for h in 0..<model.config.headCount { c.evict(layer: min(1, L - 1), head: h, keys: evict) }
                let logits = try model.forward(tokens: question, positions: Array(p..<(p + question.count)), cache: c, logitRows: [question.count - 1])
                return (c, logits)
            }
        }
        let together = try prepared(), alone = try prepared()
        var tokens = together.map { argmax($0.last) }
        var positions = plans.map { p + $0.1.count }
        let shared0 = model.kernel.sharedRowLayers
        var lastRows: [[UInt32]] = []
        for step in 0..<4 {
            let rows = try model.decodeRows(tokens: tokens, positions: positions, caches: together.map(\.cache))
            XCTAssertEqual(rows.count, plans.count * V)
            lastRows = []
            for i in plans.indices {
                let one = try model.forward(tokens: [tokens[i]], positions: [positions[i]], cache: alone[i].cache, logitRows: [0])
                let mine = Array(rows[(i * V)..<((i + 1) * V)])
                XCTAssertEqual(mine.map(\.bitPattern), one.map(\.bitPattern), "\(what): sequence \(i), step \(step)")
                lastRows.append(mine.map(\.bitPattern))
                tokens[i] = argmax(mine)
                positions[i] += 1
            }
        }
        XCTAssertEqual(Set(lastRows).count, plans.count, what)   // the sequences really differ
        // A fork cut back below the fork point and refilled leaves the parent's keys alone.
        let f = parent.fork()
        f.truncate(to: p - 5)
        try model.forward(tokens: [7, 8, 9, 10, 11, 12, 13], positions: Array((p - 5)..<(p + 2)), cache: f)
        XCTAssertEqual(parent.count, p, what)
        XCTAssertFalse(parent.hasMasks, what)
        XCTAssertEqual((0..<p).map { keys(parent, model, key: $0) }, before, what)
        XCTAssertEqual(together.map { $0.cache.count }, plans.map { p + $0.1.count + 4 }, what)
        return model.kernel.sharedRowLayers - shared0
    }

    /// SmolLM2: the shared keys span two slices (prompt block, decode block) and the 256-key
    /// score blocks end in a tail that is not a multiple of four; every layer of every step takes
    /// the shared-key path (no window: rows at different positions still share their keys).
    func testSmolLM2RowsEqualOneRowPasses() throws {
        let model = try Fixtures.model()
        XCTAssertEqual(try check(model, promptLength: 301, "SmolLM2"), 4 * model.config.layerCount)
    }

    /// Gemma 3, past the 512-key window: the global layers share their keys; on the local layers
    /// the rows' windows start at different keys (different positions), so each row runs alone.
    func testGemma3RowsEqualOneRowPasses() throws {
        let model = try Gemma3Fixtures.model().0
        let globals = (0..<model.config.layerCount).filter { model.config.attentionWindow(layer: $0) == nil }.count
        XCTAssertGreaterThan(globals, 0)
        XCTAssertEqual(try check(model, promptLength: 601, "Gemma 3"), 4 * globals)
    }

    /// A parent that rewinds after forking and decodes something else, or a fork that does, never
    /// rewrites a key the other still reads: the tail block they share stays as it was.
    func testForksAndParentRewindApart() throws {
        let model = try Fixtures.model()
        for rewinder in ["parent", "fork"] {
            let parent = model.makeCache()
            try model.forward(tokens: Array(200..<210), positions: Array(0..<10), cache: parent)
            try model.forward(tokens: [300], positions: [10], cache: parent)
            try model.forward(tokens: [301], positions: [11], cache: parent)   // keys 10, 11 in one decode block
            let fork = parent.fork()
            let (moving, still) = rewinder == "parent" ? (parent, fork) : (fork, parent)
            let kept = keys(still, model, key: 11)
            moving.truncate(to: 11)
            try model.forward(tokens: [555], positions: [11], cache: moving)
            XCTAssertNotEqual(keys(moving, model, key: 11), kept, rewinder)   // a different token's key
            XCTAssertEqual(keys(still, model, key: 11), kept, "\(rewinder) rewound into the other's key")
        }
    }

    /// One cache given to two rows would have both append to it: refused.
    func testOneCacheTwiceIsRefused() throws {
        let model = try Fixtures.model(), c = model.makeCache()
        try model.forward(tokens: [1, 2, 3], positions: [0, 1, 2], cache: c)
        XCTAssertThrowsError(try model.decodeRows(tokens: [5, 6], positions: [3, 3], caches: [c, c]))
        XCTAssertEqual(c.count, 3)
    }
}
