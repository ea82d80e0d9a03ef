import Foundation
import XCTest
import PCInference

/// `--model gemma3` resolves to the file scripts/setup.sh writes; paths pass through unchanged.
final class Gemma3KnownModelsTests: XCTestCase {
    func testShortNames() {
        XCTAssertEqual(KnownModels.resolve("gemma3"), DefaultCorpus.cacheDir + "/gemma-3-270m-q4_k_m.gguf")
        XCTAssertEqual(KnownModels.resolve("smollm2"), DefaultCorpus.defaultModelPath)
        XCTAssertEqual(KnownModels.resolve("/some/where/model.gguf"), "/some/where/model.gguf")
    }

    /// The architecture comes from the GGUF metadata: 15 local layers (window 512) and 3 global ones.
    func testLayerKindsFromMetadata() throws {
        let (model, _) = try Gemma3Fixtures.model()
        let c = model.config
        XCTAssertEqual(c.architecture, "gemma3")
        XCTAssertEqual((0..<c.layerCount).filter { c.layerKind($0) == .global }, [5, 11, 17])
        XCTAssertEqual(c.attentionWindow(layer: 0), 512)
        XCTAssertNil(c.attentionWindow(layer: 5))
        XCTAssertEqual(c.headDim, 256)
        XCTAssertEqual(c.qDim, 1024)
        XCTAssertEqual(c.contextLength, 32768)
    }
}
