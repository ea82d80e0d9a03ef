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

    /// One decode step through the quantized kernels against the float path (dequantise + sgemm,
    /// the prefill arithmetic): same greedy token, logits within the documented error.
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
        let q = logits[.quantized]!, f = logits[.float]!
        let maxDiff = zip(q, f).map { abs($0 - $1) }.max()!
        let spread = f.max()! - f.min()!
        XCTAssertEqual(q.indices.max { q[$0] < q[$1] }, f.indices.max { f[$0] < f[$1] }, "greedy token")
        XCTAssertLessThan(maxDiff, 0.02 * spread, "max |quantized - float| logit difference \(maxDiff), logit range \(spread)")
        print("decode step: max |quantized - float| logit = \(maxDiff) (logit range \(spread))")
    }
}
