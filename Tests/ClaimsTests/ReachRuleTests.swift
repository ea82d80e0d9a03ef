import XCTest
import PCInference
import ProbeAnalysis

/// Protocol v5's reach rule: the band and concentration statistics count only the heads whose
/// rows see every key. Without it a windowed head, which cannot see the sink band at all,
/// counts as "recent beats sink" (the v4 Gemma 3 window run's T3).
final class ReachRuleTests: XCTestCase {
    /// Layers 0-1 play windowed layers (no mass on any chunk's first keys, much on the tail),
    /// layers 2-3 full-reach sink heads (more on the first keys than on the tail).
    func windowedRuns(reach: [Bool]) -> ExampleRuns {
        var s = SyntheticRuns(layers: 4, heads: 3, prefix: 0)
        let bands = s.runs.bands
        s.runs.global = s.table(keys: s.globalKeys) { lh in
            (0..<s.globalKeys).map { k -> Double in
                guard let b = bands.first(where: { $0.span.contains(k) }) else { return 1 }
                if lh / 3 < 2 { return b.cachedHead.contains(k) ? 0 : (b.tail.contains(k) ? 8 : 1) }
                return b.cachedHead.contains(k) ? 8 : (b.tail.contains(k) ? 2 : 1)
            }
        }
        s.runs.kept = s.runs.global
        s.runs.globalLast = s.runs.global
        s.runs.reachGlobal = reach; s.runs.reachAll = reach
        return s.wrap()
    }

    func testWindowedHeadsAreLeftOut() throws {
        let m = try XCTUnwrap(RecencyOverSinkClaim().measure(windowedRuns(reach: [false, false, true, true])))
        XCTAssertEqual(m["value"], 0, "every head that sees both bands puts more on the sink")
        XCTAssertEqual(m["heads_counted"], 6)
        XCTAssertEqual(m["value_all_heads"], 0.5, "v4's statistic: the 6 windowed heads win by their mask")
        XCTAssertTrue(m["quarter1"]!.isNaN && m["quarter2"]!.isNaN, "no counted head in the windowed quarters: not measured, not 1.0")
        // Seen failing: with the rule off (no reach recorded, as a v4 run) the mask decides half the heads.
        let off = try XCTUnwrap(RecencyOverSinkClaim().measure(windowedRuns(reach: [])))
        XCTAssertEqual(off["value"], 0.5)
        XCTAssertEqual(off["heads_counted"], 12)
        // No head reaches: not measured, never a number.
        let none = try XCTUnwrap(RecencyOverSinkClaim().measure(windowedRuns(reach: [false, false, false, false])))
        XCTAssertTrue(none["value"]!.isNaN)
        // The other band statistics count the same heads.
        for claim in [ThreeShapesClaim(), SinkRepeatsClaim(), OutlierMapClaim()] as [any Claim] {
            XCTAssertEqual(claim.measure(windowedRuns(reach: [false, false, true, true]))?["heads_counted"], 6, claim.id)
        }
    }

    /// The reach of a layer follows the attention kernel's mask (`SlidingWindow.mask`: a key is
    /// hidden iff row position - key position >= window; chunks restart at position 0).
    func testReachFollowsTheWindowMask() {
        var c = ModelConfig(layerCount: 6, embeddingLength: 8, headCount: 1, kvHeadCount: 1, headDim: 8, feedForwardLength: 8, vocabSize: 8)
        XCTAssertEqual(EssayRuns.reach(c, lastRowPosition: 100_000), Array(repeating: true, count: 6), "no window: every layer reaches")
        c.gemma3 = Gemma3Config(slidingWindow: 512, headDim: 8, embeddingLength: 8)   // layer 5 is global
        XCTAssertEqual(EssayRuns.reach(c, lastRowPosition: 511), Array(repeating: true, count: 6))
        XCTAssertEqual(EssayRuns.reach(c, lastRowPosition: 512), [false, false, false, false, false, true])
    }
}
