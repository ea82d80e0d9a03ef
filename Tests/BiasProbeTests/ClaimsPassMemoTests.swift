import Foundation
import PCInference
import ProbeAnalysis
import XCTest

/// The claims runners share an example's finished chunk passes (`ChunkPassMemo`): the two
/// runners that take a memo (essay and continuation) must measure the same numbers, to the last
/// bit, with it and without it. Run in this process on the first quick example, as
/// `claims run --quick` sets it up (expanded weights, the default essays), without the
/// pass-key, few-shot and ranking runs that take no memo. Equality of two paths holds for any
/// weights, so it runs on the tiny test model (its calibration runs do evict: counted below).
final class ClaimsPassMemoTests: XCTestCase {
    func testReusedPassesChangeNoNumber() throws {
        let path = try TinyModel.path()
        let gguf = try GGUFFile(path: path)
        let tok = try Tokenizer(gguf: gguf), model = try LlamaModel(gguf: gguf, threads: ProcessInfo.processInfo.activeProcessorCount)
        model.expandWeights()
        var settings = ClaimSettings.quick
        settings.model = path
        // Half the quick widths: the same runs and memo hits, half the tokens per pass.
        settings.width = 64; settings.continuationWidth = 32
        let doc = tok.encode(try DefaultCorpus.essays(), parseSpecial: false, addBOS: false)
        let ex = try XCTUnwrap(settings.workList(essayTokens: doc.count).first)

        /// Every stored number of a run, as text (Float and Double print their shortest exact form).
        func numbers<T>(_ value: T) -> String { var s = ""; dump(value, to: &s); return s }

        let essayMemo = ChunkPassMemo()
        let essayReused = try EssayRunner(model: model, tok: tok, settings: settings, doc: doc, passes: essayMemo).run(ex)
        let essayFresh = try EssayRunner(model: model, tok: tok, settings: settings, doc: doc, passes: nil).run(ex)
        // The memo was used: most essay runs repeat the official run's chunk passes.
        XCTAssertGreaterThan(essayMemo.hits, 10, "the essay memo took no passes")
        XCTAssertGreaterThan(essayFresh.global.values.count, 0)
        // The calibration runs evicted keys, so the memo is compared on runs that evict too.
        for (name, ev) in [("sink early", essayFresh.evictedSinkEarly), ("sink deep", essayFresh.evictedSinkDeep),
                           ("recent deep", essayFresh.evictedRecentDeep), ("both mid", essayFresh.evictedBothMid)] {
            XCTAssertGreaterThan(ev.reduce(0, +), 0, "the \(name) calibration evicted nothing")
        }
        let a = numbers(essayReused).split(separator: "\n"), b = numbers(essayFresh).split(separator: "\n")
        XCTAssertEqual(a.count, b.count, "the essay runs differ in shape")
        if let i = (0..<min(a.count, b.count)).first(where: { a[$0] != b[$0] }) {
            XCTFail("a reused chunk pass changed the essay runs' numbers, first at line \(i) of their dump: \(a[i]) vs \(b[i])")
        }

        let contMemo = ChunkPassMemo()
        let contReused = try ContinuationRunner(model: model, tok: tok, settings: settings, doc: doc, passes: contMemo).run(ex)
        let contFresh = try ContinuationRunner(model: model, tok: tok, settings: settings, doc: doc, passes: nil).run(ex)
        XCTAssertGreaterThan(contMemo.hits, 0, "the continuation memo took no passes")
        XCTAssertEqual(contReused.nll.count, settings.continuationCounts.count)
        XCTAssertEqual(contReused.nll.mapValues(\.bitPattern), contFresh.nll.mapValues(\.bitPattern),
                       "a reused chunk pass changed the continuation NLLs")
    }
}
