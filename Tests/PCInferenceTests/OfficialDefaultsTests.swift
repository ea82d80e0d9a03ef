import XCTest
import PCInference

/// Every default of the pipeline against the official code's value (docs/parallelcomp.md, the
/// `menik1126/ParallelComp` run script and modeling file): changing one fails here, whatever
/// flags the golden cases pass.
final class OfficialDefaultsTests: XCTestCase {
    func testConfigDefaultsAreTheOfficialOnes() {
        let c = ParallelCompConfig()
        XCTAssertEqual(c.splitBy, .characters)            // the official character split
        XCTAssertNil(c.chunkTokens)                       // Cw = R - 2 (m + 1)
        XCTAssertNil(c.rawModelMaxLen)                    // R = trained context - answer budget
        XCTAssertEqual(c.keepChunks, 3)                   // topk_windows -3
        XCTAssertEqual(c.selection, .lowestNLL)           // negative topk_windows
        XCTAssertEqual(c.scoreTokens, 0)                  // query_recent_tokens 0: every label
        XCTAssertEqual(c.nllFormula, .official)
        XCTAssertTrue(c.questionBOS)                      // BOS ctx BOS q
        XCTAssertEqual(c.tieBreak, .keepLater)            // the heap pops the earlier chunk
        XCTAssertEqual(c.ranking, .question)              // query_rank true
        XCTAssertFalse(c.keepEveryChunkFirstToken)
        XCTAssertFalse(c.evictChunkFirstToken)            // token_prompt_size 1 after the first chunk
        XCTAssertTrue(c.snapKVDropFirstKept)              // the [1:] slice
        XCTAssertNil(c.compression)                       // kv_cache_eviction false
        XCTAssertNil(c.evictionLab)
        XCTAssertFalse(c.causal)
        XCTAssertEqual(c.calibration, [])                 // calibration_mode 0
        XCTAssertEqual(c.lambda, 0.1)                     // THRES
        XCTAssertEqual(c.calibrationRows, 1)              // RECENT_TOKENS
        XCTAssertEqual(c.bandWidth, 100)
        XCTAssertTrue(c.equalizeHeads)
        XCTAssertEqual(c.bandEdges, .official)
        XCTAssertFalse(c.protectQuestionKeys)
        XCTAssertEqual(c.chunkCalibrationRows, .all)
        XCTAssertEqual(c.evictionAlignment, .bottomRight) // flash-attention's alignment
        XCTAssertEqual(c.calibrationControl, .none)       // the rule's own keys (controls are ours)
        XCTAssertNil(c.calibrationControlCounts)
        XCTAssertEqual(c.stopTokens, .eos)                // eos_token_id only
        XCTAssertEqual(c.sampling.temperature, 0)         // greedy
        // SnapKV's own defaults: window (recent_token) 8, max-pool kernel 7, per chunk, no decode eviction.
        let snap = ParallelCompConfig.Compression(capacity: 32)
        XCTAssertEqual(snap.window, 8); XCTAssertEqual(snap.kernel, 7)
        XCTAssertEqual(snap.stage, .chunk); XCTAssertFalse(snap.decodeEviction)
        // A config file that names nothing gets the same defaults.
        XCTAssertEqual(try JSONDecoder().decode(ParallelCompConfig.self, from: Data("{}".utf8)), c)
    }

    func testPaperPresetRunsAtTheChunkStage() throws {
        let rules = try CalibrationRule.parseList("paper", layerCount: 32)
        XCTAssertEqual(rules.map(\.stage), [.chunk, .chunk, .chunk])
        XCTAssertEqual(rules.map(\.band), [.middle, .recent, .sink])
        XCTAssertEqual(rules.map(\.layers), [0...7, 8...15, 24...31])
        XCTAssertEqual(try CalibrationRule.parseList("paper@query", layerCount: 32).map(\.stage), [.query, .query, .query])
    }

    /// `prefill_1_calibration_I_J` has no branch in the official code: accepted, evicts nothing.
    func testChunkStageHeadAgnosticStringActsNot() throws {
        let r = try CalibrationRule.parseList("prefill_1_calibration_0_29", layerCount: 30)
        XCTAssertEqual(r.count, 1)
        XCTAssertFalse(r[0].acts)
        var c = ParallelCompConfig(); c.calibration = r
        XCTAssertEqual(c.calibrationRules(at: .chunk), [])
        XCTAssertTrue(try CalibrationRule.parseList("prefill_2_calibration_0_29", layerCount: 30)[0].acts)
    }

    /// The prompt layout: official (no chat markup) by default, its templates the official ones.
    func testPromptDefaults() {
        let f = PromptFormat.official(.passkey)
        XCTAssertEqual(f.layout, .official)
        XCTAssertEqual(f.formatContext("TEXT"), "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will quiz you about the important information there.\n\nTEXT")
        XCTAssertEqual(f.formatQuestion("What is the pass key?"), "\nNow please answer: What is the pass key?\nPlease tell me the number: ")
        XCTAssertEqual(PromptFormat.official(.qa).formatQuestion("Q"),
                       "\n\nNow, answer the following question based on the above text, only give me the answer and do not output any other words.\n\nQuestion: Q\nAnswer:")
        XCTAssertEqual(PromptFormat.official(.qa, answerPrefix: "The answer is").formatQuestion("Q").hasSuffix("Answer: The answer is"), true)
    }

    /// The official chunk count counts BOS: n = ceil((T + 1) / Cw).
    func testCharacterSplitCountsBOS() {
        let text = String(repeating: "a", count: 1000)
        XCTAssertEqual(Chunker.byCharacters(text: text, tokenCount: 100, maxTokens: 100).count, 1)
        XCTAssertEqual(Chunker.byCharacters(text: text, tokenCount: 101, maxTokens: 100).count, 2)
    }
}
