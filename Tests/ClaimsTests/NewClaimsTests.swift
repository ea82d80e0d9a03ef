import ProbeAnalysis
import XCTest

/// T14, T16, T17 on planted outcomes, and the few-shot task they run on.
final class NewClaimsTests: XCTestCase {
    func runs(fewShot: FewShotRuns = .init(), passkey: PasskeyRuns = .init(), ranking: ChunkRankingRuns = .init()) -> ExampleRuns {
        ExampleRuns(essay: EssayRuns(), passkey: passkey, continuation: ContinuationRuns(), fewShot: fewShot, ranking: ranking)
    }

    /// T14 holds when evicting the recent band in the first quarter hurts most, fails when
    /// another quarter hurts more; the statistic is not symmetric in the quarters.
    func testRecencyEvictionByQuarter() {
        func fewShot(_ nll: [Double]) -> FewShotRuns {
            var f = FewShotRuns(); f.labels = 4
            f.base = .init(nll: 1, correct: 1)
            f.recentByQuarter = nll.map { .init(nll: $0, correct: 0) }
            // Controls that cost the same in every quarter: the net statistic equals the raw one.
            f.recentByQuarterControl = nll.map { _ in .init(nll: 1.05, correct: 0) }
            return f
        }
        var r = verdict(RecencyInContextClaim(), runs(fewShot: fewShot([1.8, 1.2, 1.1, 1.0])))
        XCTAssertEqual(r.0, .holds); XCTAssertEqual(r.1, 0.6, accuracy: 1e-12)
        r = verdict(RecencyInContextClaim(), runs(fewShot: fewShot([1.2, 1.1, 1.9, 1.0])))
        XCTAssertEqual(r.0, .fails); XCTAssertEqual(r.1, -0.7, accuracy: 1e-12)
        XCTAssertNil(RecencyInContextClaim().measure(runs()))
        // A control that costs what the rule costs in quarter 1 and nothing elsewhere takes the
        // effect away: the net statistic fails where the raw one held.
        var f = fewShot([1.8, 1.2, 1.1, 1.0])
        f.recentByQuarterControl = [1.8, 1.0, 1.0, 1.0].map { .init(nll: $0, correct: 0) }
        r = verdict(RecencyInContextClaim(), runs(fewShot: f))
        XCTAssertEqual(r.0, .fails); XCTAssertEqual(r.1, -0.2, accuracy: 1e-12)
        XCTAssertEqual(RecencyInContextClaim().measure(runs(fewShot: f))!["value_uncontrolled"]!, 0.6, accuracy: 1e-12)
        // Without a control (rows before protocol v3): not measured, never the raw number.
        f.recentByQuarterControl = []
        XCTAssertEqual(verdict(RecencyInContextClaim(), runs(fewShot: f)).0, .notMeasured)
    }

    /// T16: the recipe lowering both answers' NLL holds, raising them fails, and the value is the
    /// mean of the two tasks' changes.
    /// Two parts: net of the random control (the headline) and against no eviction.
    func testCalibrationGain() {
        func x(_ dp: Double, _ df: Double, control: Double = 0) -> ExampleRuns {
            var p = PasskeyRuns(); p.base = .init(nll: 2, needleMass: 0); p.recipe = .init(nll: 2 + dp, needleMass: 0)
            p.recipeControl = .init(nll: 2 + control, needleMass: 0)
            var f = FewShotRuns(); f.base = .init(nll: 3, correct: 0); f.recipe = .init(nll: 3 + df, correct: 1)
            f.recipeControl = .init(nll: 3 + control, correct: 0)
            return runs(fewShot: f, passkey: p)
        }
        var r = verdict(CalibrationGainClaim(), x(-0.2, -0.1))
        XCTAssertEqual(r.0, .holds); XCTAssertEqual(r.1, -0.15, accuracy: 1e-12)
        r = verdict(CalibrationGainClaim(), x(0.3, -0.1))
        XCTAssertEqual(r.0, .fails); XCTAssertEqual(r.1, 0.1, accuracy: 1e-12)
        // Random eviction of as many keys gains as much: not the recipe's keys, so it fails.
        r = verdict(CalibrationGainClaim(), x(-0.2, -0.1, control: -0.15))
        XCTAssertEqual(r.0, .fails); XCTAssertEqual(r.1, 0, accuracy: 1e-12)
        // Better than random, but worse than no eviction: part (b) fails the claim.
        r = verdict(CalibrationGainClaim(), x(0.1, 0.1, control: 0.5))
        XCTAssertEqual(r.0, .fails); XCTAssertEqual(r.1, -0.4, accuracy: 1e-12)
    }

    /// T17: the rank counts other chunks at least as good (ties against the needle); a needle on
    /// top at every count holds, one ranked second everywhere fails.
    func testChunkSelection() {
        let nll = [3.0, 1.0, 2.0, 1.0, 0.5]
        XCTAssertEqual(ChunkRankingRunner.rank(of: 4, among: [0, 1, 2, 3, 4], nll: nll), 0)
        XCTAssertEqual(ChunkRankingRunner.rank(of: 1, among: [0, 1, 2, 3], nll: nll), 1)   // tie with 3
        XCTAssertEqual(ChunkRankingRunner.rank(of: 2, among: [0, 1, 2, 3, 4], nll: nll), 3)
        var k = ChunkRankingRuns(); k.needleRank = [4: 0, 8: 0, 16: 0, 32: 0]
        XCTAssertEqual(verdict(ChunkSelectionClaim(), runs(ranking: k)).0, .holds)
        k.needleRank = [4: 1, 8: 1, 16: 2, 32: 1]
        let m = ChunkSelectionClaim().measure(runs(ranking: k))!
        XCTAssertEqual(m["top1_C4"], 0); XCTAssertEqual(m["top3_C16"], 1); XCTAssertEqual(m["chance_top1_C8"], 0.125)
        XCTAssertEqual(verdict(ChunkSelectionClaim(), runs(ranking: k)).0, .fails)
    }

    /// The task is fixed by its seed; every round of demonstrations holds every type once; the
    /// query is none of them; the labels are distinct and differ between seeds.
    func testFewShotTask() {
        let a = FewShotTask.make(rounds: 6, seed: 11)
        XCTAssertEqual(a, FewShotTask.make(rounds: 6, seed: 11))
        XCTAssertEqual(a.demonstrations.count, 6 * FewShotTask.typeCount)
        for r in 0..<6 {
            XCTAssertEqual(Set(a.demonstrations[(r * 4)..<(r * 4 + 4)].map(\.type)), Set(0..<4))
        }
        XCTAssertFalse(a.demonstrations.map(\.text).contains(a.query.text))
        XCTAssertEqual(Set(a.labels).count, a.labels.count)
        let labelSets = (0..<8).map { FewShotTask.make(rounds: 1, seed: UInt64($0)).labels }
        XCTAssertGreaterThan(Set(labelSets).count, 1)
        // Chunks hold whole demonstrations, all of them, in order, and end on a label.
        let chunks = a.chunks(3)
        XCTAssertEqual(chunks.joined(separator: "\n\n"), a.demonstrations.map { FewShotTask.demonstration($0, labels: a.labels) }.joined(separator: "\n\n"))
        for c in chunks { XCTAssertTrue(a.labels.contains { c.hasSuffix("Type: " + $0) }) }
        // Accuracy reads the first label among the 20 highest logits.
        XCTAssertEqual(FewShotRunner.correct(top20: [9, 7, 5, 6], labelFirstTokens: [5, 6, 7], right: 2), 1)
        XCTAssertEqual(FewShotRunner.correct(top20: [9, 7, 5, 6], labelFirstTokens: [5, 6, 7], right: 0), 0)
        XCTAssertEqual(FewShotRunner.correct(top20: [9, 8], labelFirstTokens: [5, 6, 7], right: 0), 0)
    }
}
