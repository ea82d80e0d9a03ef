import Foundation
import PCInference
import XCTest

/// Inputs that crashed the GGUF fuzz target (Fuzz/GGUFFuzz), or that reading the code around
/// those crashes showed would: each must now give a one-line error or a correct result.
/// Files in Fixtures/fuzz-crashes/ are the fuzzer's own inputs; scripts/fuzz.sh also replays
/// them through the fuzz target, whose -O build traps where a release build would read garbage.
final class FuzzRegressionTests: XCTestCase {
    override class func tearDown() { GGUFBuilder.removeTempFiles() }

    static var crashFolder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/fuzz-crashes")
    }

    /// Everything the fuzz target does with a file, on every committed crash input.
    func testCommittedCrashInputsAreHandled() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.crashFolder.path).filter { $0.hasSuffix(".gguf") }
        XCTAssertFalse(files.isEmpty)
        for name in files.sorted() {
            let bytes = try [UInt8](Data(contentsOf: Self.crashFolder.appendingPathComponent(name)))
            guard let f = try? GGUFFile(bytes: bytes, name: name) else { continue }
            for t in f.tensors where t.elementCount <= 1 << 20 { _ = try? f.floats(t) }
            _ = try? ModelConfig(gguf: f)
            if let tok = try? Tokenizer(gguf: f) {
                for text in ["Hello world", "<|im_start|>user\n12 34 déjà vu<|im_end|>", "\u{0}\u{7f}\u{ff}"] {
                    let ids = tok.encode(text)
                    XCTAssertTrue(ids.allSatisfy { (0..<tok.vocabSize).contains($0) }, "\(name): ids outside the vocabulary")
                }
            }
        }
    }

    /// tokenizer-missing-byte-merge.gguf: a vocabulary without some byte tokens. BPE compared
    /// a missing byte (-1) through UInt32(-1), which traps. A missing byte is dropped and
    /// separates its neighbours, which still merge on their own side.
    func testMissingByteTokenNeverMerges() throws {
        // Vocabulary: every byte but "x" (0x78), plus "ab" and "cd" from merges.
        var tokens = ByteLevel.byteToScalar.map { String(Character($0)) }
        tokens[0x78] = "<unused-x>"
        tokens += ["ab", "cd"]
        let tok = try Tokenizer(tokens: tokens, merges: ["a b", "c d"])
        let ab = try XCTUnwrap(tok.tokenID(for: "ab")), cd = try XCTUnwrap(tok.tokenID(for: "cd"))
        XCTAssertEqual(tok.encode("abxcd"), [ab, cd])
        XCTAssertEqual(tok.encode("xx"), [])
        XCTAssertEqual(tok.missingByteTokens, [0x78])
    }

    /// Found reading the code next to that crash: a token_type array shorter than the vocabulary
    /// was indexed by token id while looking for the end-of-turn token, before its length was checked.
    func testTokenTypeArrayShorterThanVocabularyIsRefused() throws {
        var b = GGUFBuilder()
        let tokens = ByteLevel.byteToScalar.map { String(Character($0)) } + ["<|im_end|>"]
        b.metadata = [("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.tokens", .strings(tokens)),
                      ("tokenizer.ggml.merges", .strings([])), ("tokenizer.ggml.token_type", .i32s([1, 1, 1]))]
        let f = try GGUFFile(path: try b.write(name: "short-types"))
        XCTAssertThrowsError(try Tokenizer(gguf: f)) { error in
            XCTAssertTrue("\(error)".contains("token_type has 3 entries for 257 tokens"), "\(error)")
        }
    }

    /// Also found by reading: a negative even rope.dimension_count passed the check and made
    /// RoPE build the range 0..<-1; a context length of 2^63-1 overflowed `contextLength * 4`.
    func testOutOfRangeRopeDimensionsAndContextAreRefused() throws {
        func config(_ extra: [(String, GGUFBuilder.Value)]) throws -> ModelConfig {
            var b = GGUFBuilder()
            b.metadata = [("general.architecture", .string("llama")), ("llama.block_count", .u32(1)),
                          ("llama.embedding_length", .u32(32)), ("llama.attention.head_count", .u32(2)),
                          ("llama.feed_forward_length", .u32(64))] + extra
            b.tensors = [.init(name: "token_embd.weight", dims: [32, 4], type: 0, data: [UInt8](repeating: 0, count: 32 * 4 * 4))]
            return try ModelConfig(gguf: GGUFFile(path: try b.write(name: "config")))
        }
        XCTAssertNoThrow(try config([]))
        XCTAssertThrowsError(try config([("llama.rope.dimension_count", .i32(-2))])) { error in
            XCTAssertTrue("\(error)".contains("rope.dimension_count -2"), "\(error)")
        }
        XCTAssertThrowsError(try config([("llama.context_length", .u64(UInt64(Int.max)))])) { error in
            XCTAssertTrue("\(error)".contains("context_length"), "\(error)")
        }
        XCTAssertThrowsError(try config([("llama.context_length", .i32(-1))]))
    }

    /// The in-memory entry point reads exactly what the file does.
    func testInMemoryOpenMatchesFile() throws {
        let url = Self.crashFolder.deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/gguf/tiny-llama.gguf")
        let bytes = try [UInt8](Data(contentsOf: url))
        let fromFile = try GGUFFile(path: url.path), fromMemory = try GGUFFile(bytes: bytes)
        XCTAssertEqual(fromFile.metadataKeys, fromMemory.metadataKeys)
        XCTAssertEqual(fromFile.tensors.map(\.name), fromMemory.tensors.map(\.name))
        for t in fromFile.tensors where t.type?.canDequantize == true {
            XCTAssertEqual(try fromFile.floats(t.name), try fromMemory.floats(t.name), t.name)
        }
        XCTAssertThrowsError(try GGUFFile(bytes: bytes.prefix(23)))
        XCTAssertThrowsError(try GGUFFile(bytes: bytes.prefix(4000)))
    }
}
