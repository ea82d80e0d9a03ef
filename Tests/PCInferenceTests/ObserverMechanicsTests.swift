import PCInference
import XCTest

/// The pieces every observer shares: the per-key score loop over the last rows of a pass, the
/// stage guard of `begin`, and the band vocabulary's edges.
final class ObserverMechanicsTests: XCTestCase {
    /// A block of 3 rows (keys 5, 6, 7) scored from key 2: row i sees 4 + i keys; its value at
    /// column j is 10 * (i + 1) + j, so every sum names the rows and keys it took.
    func withBlock(_ body: (AttentionBlock) -> Void) {
        let scope = ObservationScope(stage: .global, chunkSpans: [0..<5], chunkIDs: [0], queryKeyStart: 5,
                                     queryRowStart: 5, queryRowCount: 3, firstRowKey: 5)
        let ld = 6
        var probs = [Float](repeating: 0, count: 3 * ld)
        for i in 0..<3 { for j in 0..<(4 + i) { probs[i * ld + j] = Float(10 * (i + 1) + j) } }
        let maxP = [Float](repeating: 1, count: 3)
        probs.withUnsafeBufferPointer { pp in maxP.withUnsafeBufferPointer { mp in
            body(AttentionBlock.synthetic(layer: 0, head: 0, worker: 0, scope: scope, isQuery: true, firstRow: 5, rowCount: 3,
                                          keyStart: 2, probs: pp.baseAddress!, ld: ld, entropy: nil, maxProb: mp.baseAddress!))
        } }
    }

    func sums<E: BinaryFloatingPoint>(_: E.Type, fromRow: Int, keyCount: Int) -> [E] {
        var acc = [E](repeating: 0, count: 10)
        withBlock { b in acc.withUnsafeMutableBufferPointer { b.addKeyMass(fromRow: fromRow, into: $0.baseAddress!, keyCount: keyCount) } }
        return acc
    }

    func testKeyMassTakesTheRowsFromTheGivenKeyAndStopsAtTheKeyCount() {
        // Rows at keys 6 and 7 (i = 1, 2), keys below 7: columns 0 ..< 5 of each.
        let last2: [Float] = [0, 0, 50, 52, 54, 56, 58, 0, 0, 0]   // 20 + 30, 21 + 31, ...
        XCTAssertEqual(sums(Float.self, fromRow: 6, keyCount: 7), last2)
        // Every row, every visible key: row 0 sees columns 0 ..< 4, row 2 all six.
        let all: [Double] = [0, 0, 60, 63, 66, 69, 58, 35, 0, 0]
        XCTAssertEqual(sums(Double.self, fromRow: 0, keyCount: 10), all)
        // From a key before the block: all rows; after it: none.
        XCTAssertEqual(sums(Float.self, fromRow: -4, keyCount: 10), sums(Float.self, fromRow: 5, keyCount: 10))
        XCTAssertEqual(sums(Float.self, fromRow: 8, keyCount: 10), [Float](repeating: 0, count: 10))
    }

    /// The stage guard: an observer of one stage declines the other stages' passes and starts
    /// (sizes its accumulators) only for its own.
    func testStageObserverStartsOnlyForItsStage() {
        final class Probe: StageObserver, @unchecked Sendable {
            let stage = AttentionStage.decode
            var started = 0
            func start(scope: ObservationScope, workers: Int) { started += 1 }
            func wants(isQuery: Bool) -> Bool { true }
            func observe(_ block: AttentionBlock) {}
        }
        let probe = Probe()
        for stage in AttentionStage.allCases {
            let scope = ObservationScope(stage: stage, chunkSpans: [], chunkIDs: [], queryKeyStart: 0, queryRowStart: 0,
                                         queryRowCount: 1, firstRowKey: 0)
            XCTAssertEqual(probe.begin(scope: scope, workers: 1), stage == .decode)
        }
        XCTAssertEqual(probe.started, 1)
    }

    /// Band edges for n = 10 keys, width 3: official edges leave keys 3 and 7 in no band, tiled
    /// edges cover every key once; the calibration rule's bands are the same sets.
    func testBandEdges() {
        func members(_ b: KeyBand, _ e: ParallelCompConfig.BandEdges) -> [Int] {
            (0..<10).filter { b.contains(index: $0, count: 10, width: 3, edges: e) }
        }
        XCTAssertEqual(members(.sink, .official), [0, 1, 2])
        XCTAssertEqual(members(.middle, .official), [4, 5, 6])
        XCTAssertEqual(members(.recent, .official), [8, 9])
        XCTAssertEqual(members(.sink, .tiled), [0, 1, 2])
        XCTAssertEqual(members(.middle, .tiled), [3, 4, 5, 6])
        XCTAssertEqual(members(.recent, .tiled), [7, 8, 9])
        XCTAssertEqual(members(.question, .tiled), [])
        for band in CalibrationRule.Band.allCases {
            for e in ParallelCompConfig.BandEdges.allCases {
                let rule = (0..<10).filter { CalibrationBands.contains(band, index: $0, count: 10, width: 3, edges: e) }
                XCTAssertEqual(rule, band.keyBand.map { members($0, e) } ?? Array(0..<10), "\(band) \(e)")
            }
        }
        XCTAssertEqual(KeyBand.allCases.map(\.index), [0, 1, 2, 3])
        XCTAssertEqual(KeyBand.chunkBandNames, ["sink", "middle", "recent"])
    }
}
