import Foundation
import PCInference
import XCTest

/// The model reads its matrices in place from the file mapping, and the two decode paths agree.
final class MappedWeightsTests: XCTestCase {
    func testModelLoadsWithoutExpandingWeights() throws {
        let path = try Fixtures.modelPath()
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        let model = try LlamaModel(path: path)
        // Only the float32 vectors (norms) are copied: well under 1 % of the file.
        XCTAssertLessThan(model.weights.residentWeightBytes, size / 100)
        // Every matrix and the embedding are read from the mapping: almost the whole file.
        XCTAssertGreaterThan(model.weights.mappedBytes, size * 9 / 10)
        XCTAssertLessThanOrEqual(model.weights.mappedBytes, size)
    }

    /// One decode step through each path against sgemm (the prefill arithmetic): the float path
    /// agrees to float rounding, the int8 path within its documented error; same greedy token.
    func testQuantizedDecodeStepAgreesWithFloatPath() throws {
        let model = try Fixtures.model()
        let saved = model.decodePath
        defer { model.decodePath = saved }
        let prompt = [1, 504, 3458, 282, 4649, 314, 2115, 30, 378, 3458, 282, 6871, 314]
        var logits: [DecodePath: [Float]] = [:]
        for path in DecodePath.allCases {
            model.decodePath = path
            let cache = model.makeCache()
            try model.forward(tokens: prompt, positions: Array(0..<prompt.count), cache: cache)
            logits[path] = try model.forward(tokens: [2115], positions: [prompt.count], cache: cache, logitRows: [0])
        }
        let ref = logits[.sgemm]!, spread = ref.max()! - ref.min()!
        func argmax(_ v: [Float]) -> Int { v.indices.max { v[$0] < v[$1] }! }
        for (path, bound) in [(DecodePath.float, 1e-3 * spread), (.int8, 0.03 * spread)] {
            let l = logits[path]!
            let maxDiff = zip(l, ref).map { abs($0 - $1) }.max()!
            XCTAssertEqual(argmax(l), argmax(ref), "\(path) greedy token")
            XCTAssertLessThan(maxDiff, bound, "\(path): max |logit - sgemm logit| \(maxDiff), logit range \(spread)")
            print("decode step, \(path) path: max |logit - sgemm path logit| = \(maxDiff) (logit range \(spread))")
        }
    }
}
