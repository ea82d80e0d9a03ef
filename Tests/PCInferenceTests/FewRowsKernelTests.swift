import Foundation
import PCInference
import XCTest

/// The few-rows float kernel (short prefill passes) against the one-row float kernel (decode):
/// for every weight type and kernel family, each of R activation rows must give exactly the bits
/// R separate one-row calls give, so a short pass differs from decode by nothing and from sgemm
/// by float summation order only.
final class FewRowsKernelTests: XCTestCase {
    func testEveryRowEqualsTheOneRowKernelBitForBit() throws {
        let cols = 512, rows = 6
        var rng = SplitMix64(seed: 29)
        QuantKernelTests.forEachKernelFamily { family in
            for type in QuantKernelTests.types {
                let raw = (0..<rows).flatMap { _ in QuantKernelTests.randomRow(type, cols: cols, rng: &rng) }
                // 1..8 rows are one group; 11 is a full group of 8 and a group of 3.
                for xRows in [1, 2, 3, 5, 8, 11] {
                    let x = (0..<(xRows * cols)).map { _ in Float.random(in: -2...2, using: &rng) }
                    let many = raw.withUnsafeBytes { QuantMatVec.matMul(type: type, raw: $0, rows: rows, x: x, xRows: xRows) }
                    for j in 0..<xRows {
                        let one = raw.withUnsafeBytes { QuantMatVec.matVec(type: type, raw: $0, rows: rows, x: Array(x[(j * cols)..<((j + 1) * cols)]), int8: false) }
                        XCTAssertEqual(many[(j * rows)..<((j + 1) * rows)].map(\.bitPattern), one.map(\.bitPattern),
                                       "\(type.name) family \(family), row \(j) of \(xRows)")
                    }
                }
            }
        }
    }
}
