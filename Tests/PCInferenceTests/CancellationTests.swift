import XCTest
import PCInference

/// Ctrl-C reaches the long loops: the tokenizer between words and inside one long word's merges,
/// the model between layers and row blocks.
final class CancellationTests: XCTestCase {
    func testTokenizerStopsInsideALongWordAndBetweenWords() throws {
        let tok = try syntheticTokenizer(extra: [("xx", .normal), ("xxxx", .normal)], merges: ["x x", "xx xx"])
        // One 200,000-byte word: its merging alone asks many times.
        var asked = 0
        XCTAssertThrowsError(try tok.encode(String(repeating: "x", count: 200_000), parseSpecial: false, addBOS: false,
                                            cancelled: { asked += 1; return asked > 3 })) { XCTAssertTrue($0 is CancellationError) }
        XCTAssertEqual(asked, 4, "stopped at the first request")
        // Many short words.
        asked = 0
        XCTAssertThrowsError(try tok.encode(String(repeating: "ab ", count: 100_000), parseSpecial: false, addBOS: false,
                                            cancelled: { asked += 1; return asked > 3 })) { XCTAssertTrue($0 is CancellationError) }
        // Not cancelled: the same ids as the plain call.
        let text = "The quick brown fox, 12 times."
        XCTAssertEqual(try tok.encode(text, parseSpecial: false, addBOS: false, cancelled: { false }), tok.encode(text, parseSpecial: false, addBOS: false))
    }

    func testModelStopsBetweenLayers() throws {
        let model = try LlamaModel(gguf: GGUFFile(path: try BiasprobeTestFiles.requireModel()), threads: 1)
        var asked = 0
        model.shouldStop = { asked += 1; return asked > 2 }
        let cache = model.makeCache()
        XCTAssertThrowsError(try model.forward(tokens: Array(repeating: 1, count: 8), positions: Array(0..<8), cache: cache)) {
            XCTAssertTrue($0 is CancellationError, "\($0)")
        }
        XCTAssertEqual(asked, 3, "the third check (inside layer 1) stopped the pass")
        model.shouldStop = nil
        XCTAssertNoThrow(try model.forward(tokens: [1, 2], positions: [0, 1], cache: model.makeCache()))
    }
}
