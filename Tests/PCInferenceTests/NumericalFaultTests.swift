import XCTest
import PCInference

/// A NaN or infinity in the activations stops the run with the layer and stage named.
final class NumericalFaultTests: XCTestCase {
    func tinyModel() throws -> LlamaModel {
        let path = Fixtures.packageRoot.appendingPathComponent("Fuzz/corpus/gguf/tiny-llama.gguf").path
        return try LlamaModel(path: path)
    }

    func testNaNInActivationsNamesLayerAndStage() throws {
        let model = try tinyModel()
        XCTAssertNoThrow(try model.forward(tokens: [1, 2, 3], positions: [0, 1, 2], cache: model.makeCache(), logitRows: [2]))
        // Poison one weight of layer 0's feed-forward norm: the activations turn NaN there.
        let w = model.weights.blocks[0].ffn_norm
        let saved = w[0]
        w[0] = .nan
        defer { w[0] = saved }
        XCTAssertThrowsError(try model.forward(tokens: [1, 2, 3], positions: [0, 1, 2], cache: model.makeCache(),
                                               logitRows: [2], stageName: "question prefill")) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("layer 0"), text)
            XCTAssertTrue(text.contains("question prefill"), text)
            XCTAssertFalse(text.contains("\n"), text)
        }
        w[0] = .infinity
        XCTAssertThrowsError(try model.forward(tokens: [1, 2], positions: [0, 1], cache: model.makeCache(), logitRows: [1]))
    }
}
