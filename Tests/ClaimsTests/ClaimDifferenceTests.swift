import ProbeAnalysis
import XCTest

/// Model differences are paired by example and carry an interval; a planted difference is
/// found, none is found where the runs agree, and runs drawn differently are not paired.
final class ClaimDifferenceTests: XCTestCase {
    func rows(_ value: (Int) -> Double) -> [ExampleRow] {
        (0..<20).map { i in
            ExampleRow(example: ClaimExample(index: i, offset: 0, chunks: 2, question: "", passkeyDepth: 0, passkeySeed: 0, passkeyHaystack: i),
                       claims: ["T3": ["value": value(i)]], arrays: [:], seconds: 0)
        }
    }

    func testPairedByExample() {
        // Large example-to-example spread shared by both runs, a constant 0.05 gap: an unpaired
        // comparison could not see it; the paired difference does.
        let a = rows { Double($0 % 7) * 0.2 + 0.05 }, b = rows { Double($0 % 7) * 0.2 }
        let d = ClaimDifference.rows([RecencyOverSinkClaim()], a: a, b: b, seed: 1)
        XCTAssertEqual(d.count, 1)
        XCTAssertEqual(d[0].pairs, 20)
        XCTAssertEqual(d[0].interval.mean, 0.05, accuracy: 1e-12)
        XCTAssertEqual(d[0].interval.low, 0.05, accuracy: 1e-9)    // every pair differs by exactly 0.05
        // Shuffled pairing would mix the spread in: pairing must be by example index.
        let shuffled = Array(b.reversed())
        XCTAssertEqual(ClaimDifference.rows([RecencyOverSinkClaim()], a: a, b: shuffled, seed: 1)[0].interval.low, 0.05, accuracy: 1e-9)
        let none = ClaimDifference.rows([RecencyOverSinkClaim()], a: a, b: a, seed: 1)[0].interval
        XCTAssertEqual(none.mean, 0); XCTAssertEqual(none.low, 0)
        // Units only one run measured are left out.
        let partial = rows { $0 < 10 ? 0.5 : .nan }
        XCTAssertEqual(ClaimDifference.rows([RecencyOverSinkClaim()], a: a, b: partial, seed: 1)[0].pairs, 10)
        XCTAssertTrue(ClaimDifference.markdown(aName: "a", bName: "b", rows: d).contains("| T3 | value | 0.05 [0.05, 0.05] |"))
    }

    /// Clustered (pass-key) claims pair across models too: each model counts the same
    /// example's haystack offset in its own tokens, so the offsets differ while the example is
    /// the same (two v3 runs once gave 0 pairs for T13, T15, T16 and T20).
    func testClusteredClaimsPairAcrossModelsWithTheirOwnHaystackOffsets() {
        func run(_ offset: Int, _ value: (Int) -> Double) -> [ExampleRow] {
            (0..<20).map { i in
                ExampleRow(example: ClaimExample(index: i, offset: 0, chunks: 2, question: "", passkeyDepth: Double(i % 3) / 3,
                                                 passkeySeed: 0, passkeyHaystack: 1000 * i + offset),
                           claims: ["T20": ["value": value(i)]], arrays: [:], seconds: 0)
            }
        }
        let claim = QuestionBOSClaim()
        XCTAssertTrue(claim.clustered, "T20 is a pass-key claim, clustered by configuration")
        let d = ClaimDifference.rows([claim], a: run(7) { Double($0) * 0.1 + 0.02 }, b: run(3) { Double($0) * 0.1 }, seed: 1)
        XCTAssertEqual(d.first?.pairs, 20)
        XCTAssertEqual(d.first?.interval.mean ?? .nan, 0.02, accuracy: 1e-12)
    }

    func testIncompatibleRunsAreNotPaired() {
        var a = ClaimSettings(), b = ClaimSettings()
        XCTAssertNil(ClaimDifference.incompatibility(a, b))
        b.promptLayout = ClaimPromptLayout.chat
        XCTAssertNil(ClaimDifference.incompatibility(a, b), "two layouts of one model pair (the template's effect)")
        b.seed = 7
        XCTAssertNotNil(ClaimDifference.incompatibility(a, b))
        b = ClaimSettings(); b.width = 128
        XCTAssertNotNil(ClaimDifference.incompatibility(a, b))
        a.protocolVersion = "2"
        XCTAssertNotNil(ClaimDifference.incompatibility(a, ClaimSettings()))
        // v4 only added the window size: a v3 and a v4 standard run pair; the two sizes do not.
        a = ClaimSettings(); a.protocolVersion = "3"
        var v4 = ClaimSettings(); v4.protocolVersion = "4"
        XCTAssertNil(ClaimDifference.incompatibility(a, v4), "v3 and v4 share every statistic")
        // v5 changed statistics (reach rule) and every control (replayed counts): it pairs with neither.
        XCTAssertEqual(ClaimSettings().protocolVersion, "5")
        XCTAssertNotNil(ClaimDifference.incompatibility(v4, ClaimSettings()))
        XCTAssertEqual(ClaimDifference.incompatibility(ClaimSettings.window, ClaimSettings()), "different sizes")
    }

    /// The protocol's sizes, as docs/claims-protocol.md section 1 fixes them; a run with no size
    /// flag is the standard size.
    func testSizesArePinned() {
        let s = ClaimSettings()
        XCTAssertEqual(s.size, .standard)
        XCTAssertEqual([s.examples, s.width, s.smallWidth, s.passkeyTokens, s.passkeyChunk, s.bandWidth], [40, 256, 64, 768, 256, 6])
        XCTAssertEqual(s.chunkCounts, [2, 3, 4])
        let w = ClaimSettings.window
        XCTAssertEqual(w.size, .window)
        XCTAssertEqual([w.examples, w.width, w.smallWidth, w.passkeyTokens, w.passkeyChunk, w.bandWidth], [20, 768, 192, 2304, 768, 19])
        XCTAssertGreaterThan(w.width, 512, "the window size exists to exceed Gemma 3's 512-token sliding window")
        XCTAssertEqual([w.continuationWidth, w.rankingWidth, w.fewShotRoundsPerChunk], [s.continuationWidth, s.rankingWidth, s.fewShotRoundsPerChunk])
        XCTAssertEqual(ClaimSettings.quick.size, .quick)
        var custom = ClaimSettings(); custom.width = 300
        XCTAssertNil(custom.size)
    }

    /// Default folders name the protocol version, layout and size: no two kinds of run share one
    /// (a `--quick` run once wrote its two examples over the committed 40-example results).
    func testDefaultFoldersSeparateVersionsLayoutsAndSizes() {
        let base = "outputs/claims/smollm2"
        XCTAssertEqual(ClaimSize.standard.folder(model: base, layout: .official, protocolVersion: "5"), base + "-v5-official")
        XCTAssertEqual(ClaimSize.window.folder(model: base, layout: .official, protocolVersion: "5"), base + "-v5-official-window")
        XCTAssertEqual(ClaimSize.quick.folder(model: base, layout: .chat, protocolVersion: "5"), base + "-v5-chat-quick")
        let all = ClaimSize.allCases.flatMap { s in ClaimPromptLayout.allCases.flatMap { l in ["4", "5"].map { s.folder(model: base, layout: l, protocolVersion: $0) } } }
        XCTAssertEqual(Set(all).count, all.count)
        XCTAssertFalse(all.contains(base), "never the v1 folder itself")
    }
}

/// A run whose chunks outgrow the model's sliding window says so where the report lists what it
/// cannot speak to: Gemma 3's window-size run counted every local head as "recent beats sink".
final class SlidingWindowCaveatTests: XCTestCase {
    func report(_ settings: ClaimSettings, window: Int?, layers: Int) -> ClaimReport {
        var r = ClaimReport(model: "m", settings: settings, outcomes: [], rows: [], layers: 18, heads: 4)
        r.slidingWindow = window; r.slidingLayers = layers
        return r
    }

    func testOnlyChunksBeyondTheWindowGetTheCaveat() {
        // 768-token chunks, sink band 19: the question (from position 769) reaches keys above 257 only.
        XCTAssertTrue(report(.window, window: 512, layers: 15).sinkBandUnreachable)
        XCTAssertTrue(report(.window, window: 512, layers: 15).markdown(seconds: 1, peakRSS: 1).contains("outgrow this model's 512-position sliding window in 15 of its 18"))
        // 256-token chunks fit a 512 window; a model without one never gets the caveat.
        XCTAssertFalse(report(ClaimSettings(), window: 512, layers: 15).sinkBandUnreachable)
        XCTAssertFalse(report(ClaimSettings(), window: 512, layers: 15).markdown(seconds: 1, peakRSS: 1).contains("outgrow"))
        XCTAssertFalse(report(.window, window: nil, layers: 0).sinkBandUnreachable)
        // The boundary: the band's last key (position S - 1) is visible iff S - 1 > (width + 1) - window.
        // (S = round(0.025 x width) = 13 for both widths below.)
        var s = ClaimSettings(); s.width = 523
        XCTAssertTrue(report(s, window: 512, layers: 1).sinkBandUnreachable)    // 12 <= 524 - 512
        s.width = 522
        XCTAssertFalse(report(s, window: 512, layers: 1).sinkBandUnreachable)   // 12 > 523 - 512
    }

    /// v5 rows record how many heads a statistic counted; the caveat names the claims that left
    /// heads out, also at a size where only normal attention outgrows the window (T5, T11).
    func testV5RowsNameTheClaimsThatLeftHeadsOut() {
        func row(_ counted: [String: Double]) -> ExampleRow {
            ExampleRow(example: ClaimExample(index: 0, offset: 0, chunks: 2, question: "", passkeyDepth: 0, passkeySeed: 0),
                       claims: counted.mapValues { ["value": 0.5, "heads_counted": $0] }, arrays: [:], seconds: 0)
        }
        var r = ClaimReport(model: "m", settings: ClaimSettings(), outcomes: [], rows: [row(["T3": 72, "T5": 12, "T11": 12])], layers: 18, heads: 4)
        r.slidingWindow = 512; r.slidingLayers = 15
        let md = r.markdown(seconds: 1, peakRSS: 1)
        XCTAssertTrue(md.contains("T5 12, T11 12 of 72 heads per example"), md)
        XCTAssertFalse(md.contains("T3 72"), "T3 counted every head here")
        // Every head counted (SmolLM2, or no rows): no v5 sentence.
        let all = ClaimReport(model: "m", settings: ClaimSettings(), outcomes: [], rows: [row(["T3": 270, "T5": 270])], layers: 30, heads: 9)
        XCTAssertFalse(all.markdown(seconds: 1, peakRSS: 1).contains("heads_counted"))
    }
}
