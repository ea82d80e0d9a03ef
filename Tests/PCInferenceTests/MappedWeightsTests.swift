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

/// `expandWeights()` keeps float32 copies to save re-expanding them in every pass; the copies
/// come from the same dequantiser and feed the same sgemm calls, so no number may move.
final class ExpandedWeightsTests: XCTestCase {
    func testExpandedWeightsChangeNoNumber() throws {
        let model = try LlamaModel(path: try Fixtures.modelPath())   // its own: expansion lasts
        let prompt = [1, 504, 3458, 282, 4649, 314, 2115, 30, 378, 3458, 282, 6871, 314]
        // A 24-row pass too: between the direct kernel's crossovers with and without expanded
        // weights, where two limits would send the two runs down different paths.
        let long = Array((prompt + prompt).prefix(24))
        func run() throws -> [Float] {
            let cache = model.makeCache()
            let rows = try model.forward(tokens: prompt, positions: Array(0..<prompt.count), cache: cache, logitRows: Array(0..<prompt.count))
            let step = try model.forward(tokens: [2115], positions: [prompt.count], cache: cache, logitRows: [0])
            let wide = try model.forward(tokens: long, positions: Array(0..<long.count), cache: model.makeCache(), logitRows: [long.count - 1])
            return rows + step + wide
        }
        let before = try run()
        XCTAssertNil(model.expanded)
        model.expandWeights()
        let bytes = try XCTUnwrap(model.expanded).bytes
        // Every layer matrix and the output projection, 4 bytes per weight.
        let w = model.weights, layerElements = w.layerMatrixElements * model.config.layerCount
        XCTAssertEqual(bytes, (layerElements + (w.output ?? w.token_embd.matrix).elementCount) * 4)
        let after = try run()
        XCTAssertEqual(before.count, after.count)
        XCTAssertTrue(zip(before, after).allSatisfy { $0.bitPattern == $1.bitPattern }, "expanded weights changed a logit")
    }
}
