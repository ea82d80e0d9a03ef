import Foundation
import PCInference
import XCTest

// MARK: - locating the model and the golden fixtures

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Where the tests find the default model, the essays and the golden fixtures.
enum BiasprobeTestFiles {
    static func env(_ key: String) -> String? {
        guard let v = ProcessInfo.processInfo.environment[key], !v.isEmpty else { return nil }
        return v
    }

    /// The package root: this file is `<root>/Tests/PCInferenceTests/TokenizerTests.swift`.
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// `$BIASPROBE_GOLDEN`, else `<package root>/../shared/golden`.
    static var goldenDir: URL {
        if let g = env("BIASPROBE_GOLDEN") { return URL(fileURLWithPath: g) }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/golden")
    }

    /// `$BIASPROBE_CACHE`, else `~/.cache/biasprobe`.
    static var cacheDir: URL {
        if let c = env("BIASPROBE_CACHE") { return URL(fileURLWithPath: c) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/biasprobe")
    }

    /// `$BIASPROBE_MODEL`, else the SmolLM2 file in the cache.
    static var modelPath: String {
        env("BIASPROBE_MODEL") ?? cacheDir.appendingPathComponent("SmolLM2-135M-Instruct.Q4_1.gguf").path
    }

    static func requireModel() throws -> String {
        let p = modelPath
        guard FileManager.default.fileExists(atPath: p) else {
            throw TestSetupError("the default model is missing at \(p): run scripts/setup.sh (or set BIASPROBE_MODEL)")
        }
        return p
    }

    static func golden(_ name: String) throws -> Data {
        let url = goldenDir.appendingPathComponent(name)
        guard let d = FileManager.default.contents(atPath: url.path) else {
            throw TestSetupError("golden fixture \(url.path) is missing: set BIASPROBE_GOLDEN to the shared/golden folder")
        }
        return d
    }

    static func goldenText(_ name: String) throws -> String { String(decoding: try golden(name), as: UTF8.self) }

    /// The Paul Graham essays (file name, text), sorted by name.
    static func essays() throws -> [(String, String)] {
        let dir = cacheDir.appendingPathComponent("PaulGrahamEssays")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.filter { $0.hasSuffix(".txt") }.sorted() ?? []
        guard !names.isEmpty else { throw TestSetupError("no essays in \(dir.path): run scripts/setup.sh") }
        return try names.map { ($0, try String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8)) }
    }
}

/// The default model's tokenizer, loaded once for all tests.
enum ModelTokenizer {
    static let loaded: Result<Tokenizer, any Error> = Result {
        try Tokenizer(gguf: GGUFFile(path: try BiasprobeTestFiles.requireModel()))
    }
    static func get() throws -> Tokenizer { try loaded.get() }
}

// MARK: - golden file formats

struct GoldenTokenizerFile: Decodable {
    struct Case: Decodable {
        var text: String
        var parseSpecial: Bool
        var addBos: Bool
        var ids: [Int]
        var pieces: [String]
        var roundtripOk: Bool
    }
    var cases: [Case]
}

struct GoldenLogitsFile: Decodable {
    struct Prompt: Decodable { var text: String; var ids: [Int] }
    var prompts: [Prompt]
}

struct GoldenAttentionFile: Decodable {
    struct Config: Decodable { var chunkLen: Int }
    var config: Config
    var chunkTextsBeforeTruncation: [String]
    var chunkIds: [[Int]]
    var queryText: String
    var queryIds: [Int]
}

func decodeGolden<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
    let d = JSONDecoder()
    d.keyDecodingStrategy = .convertFromSnakeCase
    return try d.decode(T.self, from: try BiasprobeTestFiles.golden(name))
}

/// The user message of a one-turn ChatML prompt (between `<|im_start|>user\n` and `<|im_end|>`).
func chatMLUserMessage(_ text: String) -> String? {
    guard let a = text.range(of: "<|im_start|>user\n"), let b = text.range(of: "<|im_end|>", range: a.upperBound..<text.endIndex)
    else { return nil }
    return String(text[a.upperBound..<b.lowerBound])
}

// MARK: - a small synthetic vocabulary

/// Byte-level vocabulary: the 256 byte tokens, then `extra` tokens (byte-level strings or specials).
func syntheticTokenizer(extra: [(String, TokenType)], merges: [String], pre: PreTokenizerKind = .gpt2,
                        ignoreMerges: Bool? = nil) throws -> Tokenizer {
    var tokens = ByteLevel.byteToScalar.map { String(Character($0)) }
    var types = [Int](repeating: TokenType.normal.rawValue, count: 256)
    for (t, ty) in extra { tokens.append(t); types.append(ty.rawValue) }
    return try Tokenizer(tokens: tokens, tokenTypes: types, merges: merges, preTokenizer: pre, ignoreMerges: ignoreMerges)
}

// MARK: - tests

final class TokenizerTests: XCTestCase {
    override class func tearDown() { GGUFBuilder.removeTempFiles() }

    // MARK: golden files

    func testGoldenTokenizerCases() throws {
        let tok = try ModelTokenizer.get()
        let golden = try decodeGolden(GoldenTokenizerFile.self, "tokenizer.json")
        XCTAssertGreaterThanOrEqual(golden.cases.count, 5)
        for (i, c) in golden.cases.enumerated() {
            let ids = tok.encode(c.text, parseSpecial: c.parseSpecial, addBOS: c.addBos)
            XCTAssertEqual(ids, c.ids, "case \(i) ids: \(c.text.debugDescription)")
            XCTAssertEqual(ids.map(tok.piece), c.pieces, "case \(i) pieces")
            XCTAssertEqual(c.pieces.map(tok.tokenID(for:)), c.ids.map { Optional($0) }, "case \(i) piece → id")
            if c.roundtripOk {
                XCTAssertEqual(Array(tok.decode(c.ids).utf8), Array(c.text.utf8), "case \(i) round trip")
            }
        }
    }

    func testGoldenPromptsRenderAndEncode() throws {
        let tok = try ModelTokenizer.get()
        let golden = try decodeGolden(GoldenLogitsFile.self, "logits.json")
        XCTAssertEqual(golden.prompts.count, 2)
        let plain = golden.prompts[0], chat = golden.prompts[1]
        XCTAssertEqual(tok.encode(plain.text), plain.ids)

        let user = try XCTUnwrap(chatMLUserMessage(chat.text), "prompt 2 is not a ChatML chat")
        let rendered = ChatTemplate.chatml.render(messages: [.user(user)], addGenerationPrompt: true)
        XCTAssertEqual(rendered, chat.text)
        XCTAssertEqual(tok.encode(rendered), chat.ids)
        // The same through the GGUF's own template text.
        XCTAssertEqual(tok.chatTemplate, .chatml)
        XCTAssertEqual(tok.defaultSystemPrompt, ChatTemplate.smolLMDefaultSystemPrompt)
        XCTAssertEqual(tok.renderChat([.user(user)], addGenerationPrompt: true), chat.text)
        XCTAssertEqual(tok.decode(chat.ids), chat.text)
    }

    func testGoldenAttentionChunksAndQuery() throws {
        let tok = try ModelTokenizer.get()
        let g = try decodeGolden(GoldenAttentionFile.self, "attn_mass.json")
        XCTAssertEqual(g.chunkTextsBeforeTruncation.count, g.chunkIds.count)
        for (i, (text, ids)) in zip(g.chunkTextsBeforeTruncation, g.chunkIds).enumerated() {
            XCTAssertEqual(Array(tok.encode(text).prefix(g.config.chunkLen)), ids, "chunk \(i)")
        }
        XCTAssertEqual(tok.encode(g.queryText), g.queryIds)
        let user = try XCTUnwrap(chatMLUserMessage(g.queryText))
        XCTAssertEqual(ChatTemplate.chatml.render(messages: [.user(user)], addGenerationPrompt: true, defaultSystemPrompt: nil),
                       g.queryText)
    }

    func testGoldenPassageTokenCount() throws {
        let tok = try ModelTokenizer.get()
        let readme = try BiasprobeTestFiles.goldenText("README.md")
        // "`passage.txt` (979 tokens with the default tokenizer, no BOS)"
        let match = try XCTUnwrap(readme.firstMatch(of: /\((\d+) tokens with the default tokenizer/), "README no longer states the count")
        let expected = try XCTUnwrap(Int(match.1))
        let passage = try BiasprobeTestFiles.goldenText("passage.txt")
        let ids = tok.encode(passage)
        XCTAssertEqual(ids.count, expected)
        XCTAssertEqual(Array(tok.decode(ids).utf8), Array(passage.utf8))
    }

    func testModelTokenizerMatchesMetadata() throws {
        let tok = try ModelTokenizer.get()
        let f = try GGUFFile(path: try BiasprobeTestFiles.requireModel())
        let md = f.metadata
        XCTAssertEqual(tok.vocabSize, md["tokenizer.ggml.tokens"]?.array?.count)
        XCTAssertEqual(tok.vocabSize, md["llama.vocab_size"]?.int)
        XCTAssertEqual(tok.preTokenizer.rawValue, md["tokenizer.ggml.pre"]?.string)
        XCTAssertEqual(tok.bosID, md["tokenizer.ggml.bos_token_id"]?.int)
        XCTAssertEqual(tok.eosID, md["tokenizer.ggml.eos_token_id"]?.int)
        XCTAssertEqual(tok.addBOSByDefault, md["tokenizer.ggml.add_bos_token"]?.bool)
        // No eot_token_id in this file: the end-of-turn token is found by its text, as llama.cpp does.
        XCTAssertNil(md["tokenizer.ggml.eot_token_id"])
        XCTAssertEqual(tok.eotID.map(tok.piece), "<|im_end|>")
        // Control tokens are the special ones; the 256 byte tokens round-trip to their bytes.
        let types = md["tokenizer.ggml.token_type"]!.array!.map { $0.int! }
        for id in 0..<tok.vocabSize { XCTAssertEqual(tok.isSpecial(id), types[id] == 3) }
        XCTAssertFalse(tok.isSpecial(-1))
        XCTAssertFalse(tok.isSpecial(tok.vocabSize))
        for b in 0..<256 {
            guard let id = tok.tokenID(for: String(Character(ByteLevel.byteToScalar[b]))) else { continue }
            XCTAssertEqual(Array(tok.bytes(of: id)), [UInt8(b)])
        }
        // Bytes without a token of their own are dropped from the text, as llama.cpp and HF do.
        let missing = (0..<256).filter { tok.tokenID(for: String(Character(ByteLevel.byteToScalar[$0]))) == nil }
        XCTAssertEqual(tok.missingByteTokens.map(Int.init), missing)
        for b in missing where b < 0x80 {
            let text = "a\(Character(Unicode.Scalar(UInt8(b))))b"
            XCTAssertEqual(tok.decode(tok.encode(text)), "ab", "byte \(b)")
        }
        XCTAssertEqual(tok.piece(-5), "")
        XCTAssertEqual(tok.decode([-1, 1_000_000]), "")
    }

    func testAddBOSAndSkipSpecial() throws {
        let tok = try ModelTokenizer.get()
        let bos = try XCTUnwrap(tok.bosID)
        XCTAssertEqual(tok.encode("Hi", addBOS: true).first, bos)
        XCTAssertEqual(tok.encode("Hi", addBOS: true).dropFirst().map { $0 }, tok.encode("Hi"))
        XCTAssertNotEqual(tok.encode("Hi").first, bos, "add_bos_token is false in this GGUF")
        let ids = tok.encode("<|im_start|>user\nHi<|im_end|>")
        XCTAssertEqual(tok.decode(ids, skipSpecial: true), "user\nHi")
        XCTAssertEqual(tok.decode(ids), "<|im_start|>user\nHi<|im_end|>")
        XCTAssertTrue(tok.encode("<|im_start|><|im_end|>", parseSpecial: false).allSatisfy { !tok.isSpecial($0) })
    }

    // MARK: round trip

    static let pool: [String] = [
        "a", "b", "z", "Q", "the", "The", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n", "\u{0B}", "\u{0C}",
        "0", "7", "42", "12345", "2024-06-01", "3.14", "'", "'s", "'S", "'ll", "'LL", "'re", "'ve", "'m", "'d", "'x",
        ".", ",", "!", "?", "...", "--", "—", "(", ")", "\"", "#", "$", "€", "½", "²", "Ⅻ", "٣",
        "é", "É", "ñ", "ö", "e\u{301}", "ß", "İ", "Привет", "ﬁ", "世界", "日本語", "한국어", "🙂", "👍🏽", "👨‍👩‍👧", "🇫🇷",
        "\u{A0}", "\u{3000}", "\u{2028}", "\u{85}", "\u{200B}", "\u{FEFF}", "\u{7F}", "\u{01}",
        "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_", "|>", "<",
    ]

    static func randomText(_ rng: inout SplitMix64, maxParts: Int = 24) -> String {
        (0..<Int.random(in: 0...maxParts, using: &rng)).map { _ in pool.randomElement(using: &rng)! }.joined()
    }

    func testRoundTripRandomStrings() throws {
        let tok = try ModelTokenizer.get()
        var rng = SplitMix64(seed: 7)
        for i in 0..<400 {
            let text = TokenizerTests.randomText(&rng)
            for parseSpecial in [true, false] {
                let ids = tok.encode(text, parseSpecial: parseSpecial)
                XCTAssertEqual(Array(tok.decode(ids).utf8), Array(text.utf8), "#\(i) parseSpecial \(parseSpecial): \(text.debugDescription)")
                XCTAssertTrue(ids.allSatisfy { (0..<tok.vocabSize).contains($0) })
                if !parseSpecial { XCTAssertFalse(ids.contains(where: tok.isSpecial), "#\(i): \(text.debugDescription)") }
                // Streaming gives the same text, with no U+FFFD on the way.
                var stream = tok.streamingDecoder()
                var streamed = ""
                for id in ids {
                    let piece = stream.append(id)
                    XCTAssertFalse(piece.unicodeScalars.contains("\u{FFFD}"), "#\(i) streaming emitted U+FFFD")
                    streamed += piece
                }
                streamed += stream.finish()
                XCTAssertEqual(Array(streamed.utf8), Array(text.utf8), "#\(i) streaming")
            }
        }
    }

    func testEncodingIsDeterministicAcrossCacheStates() throws {
        // A fresh tokenizer (cold cache) and the shared one (warm cache) agree, also when used concurrently.
        let warm = try ModelTokenizer.get()
        let cold = try Tokenizer(gguf: GGUFFile(path: try BiasprobeTestFiles.requireModel()))
        var rng = SplitMix64(seed: 99)
        let texts = (0..<64).map { _ in TokenizerTests.randomText(&rng, maxParts: 60) }
        let expected = texts.map { warm.encode($0) }
        let results = UnsafeMutableBufferPointer<[Int]>.allocate(capacity: texts.count)
        results.initialize(repeating: [])
        defer { results.deallocate() }
        nonisolated(unsafe) let out = results
        DispatchQueue.concurrentPerform(iterations: texts.count) { i in out[i] = cold.encode(texts[i]) }
        XCTAssertEqual(Array(results), expected)
    }

    // MARK: decoding

    func testStreamingDecoderWaitsForWholeCharacters() throws {
        let tok = try ModelTokenizer.get()
        let text = "世界"
        let ids = tok.encode(text)
        XCTAssertGreaterThan(ids.count, 2, "these CJK characters are split inside their bytes")
        var stream = tok.streamingDecoder()
        var pieces: [String] = []
        for id in ids { pieces.append(stream.append(id)) }
        XCTAssertEqual(pieces.first, "", "the first token ends inside 世")
        XCTAssertEqual(pieces.joined(), text)
        XCTAssertEqual(stream.pendingByteCount, 0)
        XCTAssertEqual(stream.finish(), "")
        // A stream that ends inside a character flushes it as U+FFFD.
        stream = tok.streamingDecoder()
        XCTAssertEqual(stream.append(ids[0]), "")
        XCTAssertEqual(stream.finish(), "\u{FFFD}")
        // Plain decode of a partial character does not crash and marks it.
        XCTAssertEqual(tok.decode([ids[0]]), "\u{FFFD}")
        XCTAssertEqual(tok.decode(tok.encode("ok ") + [ids[0]]), "ok \u{FFFD}")
        // skipSpecial in the streaming decoder.
        stream = tok.streamingDecoder(skipSpecial: true)
        XCTAssertEqual(tok.encode("<|im_end|>A").map { stream.append($0) }.joined(), "A")
    }

    func testStreamingDecoderByteByByte() throws {
        // Feed raw bytes one token each: every character appears exactly when its last byte arrives.
        let tok = try ModelTokenizer.get()
        let text = "aé世🙂\u{FFFD}z"
        var stream = tok.streamingDecoder()
        var out: [String] = []
        for b in text.utf8 {
            let id = try XCTUnwrap(tok.tokenID(for: String(Character(ByteLevel.byteToScalar[Int(b)]))))
            out.append(stream.append(id))
        }
        XCTAssertEqual(out.joined(), text)
        XCTAssertEqual(out.filter { !$0.isEmpty }.count, text.unicodeScalars.count)
        // Bytes that can never become a valid character are not held back.
        func byteToken(_ b: UInt8) throws -> Int {
            try XCTUnwrap(tok.tokenID(for: String(Character(ByteLevel.byteToScalar[Int(b)]))), "byte \(b)")
        }
        var s = tok.streamingDecoder()
        XCTAssertEqual(s.append(try byteToken(0x80)), "\u{FFFD}", "a lone continuation byte")
        XCTAssertEqual(s.append(try byteToken(0xF4)), "", "F4 may start U+100000…U+10FFFF")
        XCTAssertEqual(s.pendingByteCount, 1)
        let bad = s.append(try byteToken(0x90))
        XCTAssertTrue(bad.unicodeScalars.allSatisfy { $0 == "\u{FFFD}" } && !bad.isEmpty, "F4 90 is beyond U+10FFFF: \(bad.debugDescription)")
        XCTAssertEqual(s.pendingByteCount, 0)
        XCTAssertEqual(s.append(try byteToken(0xE0)), "")
        XCTAssertEqual(s.append(try byteToken(0x80)).unicodeScalars.first, "\u{FFFD}", "E0 80 is an overlong form")
    }

    // MARK: pre-tokenizers

    func assertSplit(_ text: String, _ kind: PreTokenizerKind, _ expected: [String], file: StaticString = #filePath, line: UInt = #line) {
        let got = PreTokenizer.split(text, kind: kind)
        XCTAssertEqual(got, expected, "\(kind) on \(text.debugDescription)", file: file, line: line)
    }

    func testPreTokenizerGPT2() {
        let k = PreTokenizerKind.gpt2
        assertSplit("Hello world", k, ["Hello", " world"])
        assertSplit("   leading", k, ["  ", " leading"])
        assertSplit("a  b", k, ["a", " ", " b"])
        assertSplit("trailing   ", k, ["trailing", "   "])
        assertSplit("line\n\nnext", k, ["line", "\n", "\n", "next"])
        assertSplit("x\n\n\ttab", k, ["x", "\n\n", "\t", "tab"])
        assertSplit("12345 67", k, ["12345", " 67"])
        assertSplit("It's we're I'LL It'S", k, ["It", "'s", " we", "'re", " I", "'", "LL", " It", "'", "S"])
        assertSplit("Hi!!! ...ok", k, ["Hi", "!!!", " ...", "ok"])
        assertSplit("a\tb", k, ["a", "\t", "b"])
        assertSplit("  ", k, ["  "])
        assertSplit("", k, [])
    }

    func testPreTokenizerSmolLM() {
        let k = PreTokenizerKind.smollm
        assertSplit("12345 67", k, ["1", "2", "3", "4", "5", " ", "6", "7"])
        assertSplit("x 2024", k, ["x", " ", "2", "0", "2", "4"])
        assertSplit("abc123def", k, ["abc", "1", "2", "3", "def"])
        assertSplit("  two  3", k, [" ", " two", "  ", "3"])
        assertSplit("½€²", k, ["½", "€", "²"])
        assertSplit("It'S 'll", k, ["It", "'", "S", " '", "ll"])
        assertSplit("a \n\n b", k, ["a", " \n\n", " b"])
    }

    func testPreTokenizerLlamaBPE() {
        let k = PreTokenizerKind.llamaBPE
        assertSplit("12345 67", k, ["123", "45", " ", "67"])
        assertSplit("1234567", k, ["123", "456", "7"])
        assertSplit("It'S HELLO'LL we've", k, ["It", "'S", " HELLO", "'LL", " we", "'ve"])
        assertSplit("   leading", k, ["  ", " leading"])
        assertSplit("a\n\n  b", k, ["a", "\n\n", " ", " b"])
        assertSplit("x  \n y", k, ["x", "  \n", " y"])
        assertSplit("\tword", k, ["\tword"])
        assertSplit("...\n\nok", k, ["...\n\n", "ok"])
        assertSplit("(hello) !!", k, ["(hello", ")", " !!"])
        assertSplit("trailing   ", k, ["trailing", "   "])
        assertSplit("a\r\n\r\nb", k, ["a", "\r\n\r\n", "b"])
    }

    func testPreTokenizerQwen2() {
        let k = PreTokenizerKind.qwen2
        assertSplit("12345 67", k, ["1", "2", "3", "4", "5", " ", "6", "7"])
        assertSplit("It'S x", k, ["It", "'S", " x"])
        assertSplit("(hello)\n\n", k, ["(hello", ")\n\n"])
    }

    func testPreTokenizerKindNames() {
        XCTAssertEqual(PreTokenizerKind(ggufName: "smollm"), .smollm)
        XCTAssertEqual(PreTokenizerKind(ggufName: "llama-bpe"), .llamaBPE)
        XCTAssertEqual(PreTokenizerKind(ggufName: "qwen2"), .qwen2)
        XCTAssertEqual(PreTokenizerKind(ggufName: "default"), .gpt2)
        XCTAssertEqual(PreTokenizerKind(ggufName: "gpt2"), .gpt2)
        XCTAssertNil(PreTokenizerKind(ggufName: "tekken"))
    }

    /// The scanners against the regexes themselves, run by Swift Regex over Unicode scalars.
    func testPreTokenizersAgreeWithTheRegexes() throws {
        let gpt2 = try Regex(#"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#).matchingSemantics(.unicodeScalar)
        let llama = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        let llama3 = try Regex(llama).matchingSemantics(.unicodeScalar)
        let qwen2 = try Regex(llama.replacingOccurrences(of: #"\p{N}{1,3}"#, with: #"\p{N}"#)).matchingSemantics(.unicodeScalar)
        let digit = try Regex(#"\p{N}"#).matchingSemantics(.unicodeScalar)

        func pieces(_ text: Substring, _ re: Regex<AnyRegexOutput>) -> [String] {
            // Matches and the gaps between them, as llama.cpp's unicode_regex_split keeps both.
            var out: [String] = [], last = text.startIndex
            for m in text.matches(of: re) {
                if last < m.range.lowerBound { out.append(String(text.unicodeScalars[last..<m.range.lowerBound])) }
                if !m.range.isEmpty { out.append(String(text.unicodeScalars[m.range])) }
                last = m.range.upperBound
            }
            if last < text.endIndex { out.append(String(text.unicodeScalars[last...])) }
            return out
        }
        func reference(_ text: String, _ kind: PreTokenizerKind) -> [String] {
            switch kind {
            case .gpt2: return pieces(text[...], gpt2)
            case .smollm: return pieces(text[...], digit).flatMap { pieces(Substring($0), gpt2) }
            case .llamaBPE: return pieces(text[...], llama3)
            case .qwen2: return pieces(text[...], qwen2)
            }
        }
        var rng = SplitMix64(seed: 2024)
        var texts = ["  two leading spaces\n\n\ttab\t and   three spaces, trailing   \n",
                     "Hello, world! It's 2024-06-01 and I'm testing 12345 tokens.",
                     "Héllo wörld — naïve café, 世界 🙂 Привет! ñ½€", "I'VE 'Ll 'rE 'D''s", "a\r\n \r\n\t b\u{A0}\u{3000}c"]
        for _ in 0..<300 { texts.append(TokenizerTests.randomText(&rng, maxParts: 16)) }
        for text in texts {
            for kind in PreTokenizerKind.allCases {
                let got = PreTokenizer.split(text, kind: kind)
                XCTAssertEqual(got, reference(text, kind), "\(kind) on \(text.debugDescription)")
                XCTAssertEqual(Array(got.joined().unicodeScalars), Array(text.unicodeScalars))
            }
        }
    }

    // MARK: BPE and special tokens on a small vocabulary

    func testBPEMergesByRankThenLeftmost() throws {
        let ab = [("ab", TokenType.normal), ("bc", .normal), ("abc", .normal), ("aa", .normal)]
        var tok = try syntheticTokenizer(extra: ab, merges: ["a b", "b c", "ab c", "a a"])
        func pieces(_ s: String) -> [String] { tok.encode(s).map(tok.piece) }
        XCTAssertEqual(pieces("abc"), ["abc"])
        XCTAssertEqual(pieces("aaa"), ["aa", "a"], "equal ranks merge leftmost first")
        XCTAssertEqual(pieces("aaaa"), ["aa", "aa"])
        tok = try syntheticTokenizer(extra: ab, merges: ["b c", "a b", "ab c"])
        XCTAssertEqual(pieces("abc"), ["a", "bc"], "the lower rank wins, and (a, bc) has no merge")
        XCTAssertEqual(pieces("abx"), ["ab", "x"])
        // Merges naming unknown tokens are ignored.
        tok = try syntheticTokenizer(extra: ab, merges: ["q r", "a b", "nospace"])
        XCTAssertEqual(pieces("ab ab"), ["ab", "Ġ", "ab"])
        XCTAssertEqual(tok.decode(tok.encode("ab ab")), "ab ab")
    }

    func testIgnoreMergesForLlamaBPE() throws {
        let extra = [("abc", TokenType.normal)]
        let llama = try syntheticTokenizer(extra: extra, merges: [], pre: .llamaBPE)
        XCTAssertTrue(llama.ignoresMerges)
        XCTAssertEqual(llama.encode("abc").map(llama.piece), ["abc"], "a word in the vocabulary is taken whole")
        let gpt2 = try syntheticTokenizer(extra: extra, merges: [], pre: .gpt2)
        XCTAssertFalse(gpt2.ignoresMerges)
        XCTAssertEqual(gpt2.encode("abc").map(gpt2.piece), ["a", "b", "c"])
    }

    func testSpecialTokensSplitLongestFirst() throws {
        let tok = try syntheticTokenizer(extra: [("<s>", .control), ("xy", .control), ("yzw", .control),
                                                 ("<u>", .userDefined), ("<s>>", .control)], merges: [])
        let s = 256, xy = 257, yzw = 258, u = 259, s2 = 260
        func byteID(_ c: Character) -> Int { tok.tokenID(for: String(ByteLevel.byteToScalar[Int(c.asciiValue!)]))! }
        // Longer tokens are placed first, wherever they are: "yzw" beats the earlier "xy".
        XCTAssertEqual(tok.encode("xyzw"), [byteID("x"), yzw])
        XCTAssertEqual(tok.encode("<s>><s>"), [s2, s])
        XCTAssertEqual(tok.encode("a<s>b<u>"), [byteID("a"), s, byteID("b"), u])
        XCTAssertEqual(tok.encode("xyxy"), [xy, xy])
        // parseSpecial false: control tokens are text, user-defined ones are still split out.
        XCTAssertEqual(tok.encode("<s><u>", parseSpecial: false), "<s>".map(byteID) + [u])
        XCTAssertTrue(tok.isSpecial(s))
        XCTAssertFalse(tok.isSpecial(u))
        XCTAssertEqual(tok.decode([s, u], skipSpecial: true), "<u>")
        XCTAssertEqual(tok.decode(tok.encode("q<s>>r<s>")), "q<s>>r<s>")
    }

    func testMemberwiseInitErrors() {
        XCTAssertThrowsError(try Tokenizer(tokens: ["a", "b"], merges: [])) { e in
            XCTAssertTrue("\(e)".contains("byte tokens"), "\(e)")
        }
        let tokens = ByteLevel.byteToScalar.map { String(Character($0)) }
        XCTAssertThrowsError(try Tokenizer(tokens: tokens, tokenTypes: [1], merges: []))
        XCTAssertThrowsError(try Tokenizer(tokens: tokens, merges: [], bosID: 300)) { e in
            XCTAssertTrue("\(e)".contains("300"), "\(e)")
        }
    }

    // MARK: GGUF tokenizer metadata

    func tokenizerGGUF(model: String = "gpt2", pre: String? = "qwen2", extra: [(String, GGUFBuilder.Value)] = []) throws -> GGUFFile {
        var tokens = ByteLevel.byteToScalar.map { String(Character($0)) }
        var types = [Int32](repeating: 1, count: 256)
        for t in ["<|im_start|>", "<|im_end|>", "<|begin_of_text|>"] { tokens.append(t); types.append(3) }
        tokens.append("ab"); types.append(1)
        var b = GGUFBuilder()
        b.metadata = [("general.architecture", .string("llama")), ("tokenizer.ggml.model", .string(model))]
        if let pre { b.metadata.append(("tokenizer.ggml.pre", .string(pre))) }
        b.metadata += [("tokenizer.ggml.tokens", .strings(tokens)), ("tokenizer.ggml.token_type", .i32s(types)),
                       ("tokenizer.ggml.merges", .strings(["a b"]))]
        b.metadata += extra
        return try GGUFFile(path: try b.write(name: "tok"))
    }

    /// A Llama-3-style tokenizer (BOS `<|begin_of_text|>`, add_bos_token, a template that writes
    /// the BOS itself): every chunk starts with exactly one BOS, so the combined cache, which
    /// drops later chunks' first token, holds exactly one; the question adds its own (official).
    func testLlama3TemplateGivesOneBOSPerChunk() throws {
        let f = try tokenizerGGUF(pre: "llama-bpe", extra: [
            ("tokenizer.ggml.bos_token_id", .u32(258)), ("tokenizer.ggml.add_bos_token", .bool(true)),
            ("tokenizer.chat_template", .string("{{ '<|begin_of_text|>' }}<|start_header_id|>user<|end_header_id|>"))])
        let tok = try Tokenizer(gguf: f)
        XCTAssertEqual(tok.chatTemplate, .llama3)
        XCTAssertEqual(tok.encode("<|begin_of_text|>ab", parseSpecial: true, addBOS: nil).prefix(2), [258, 258], "the trap: two BOS")
        let format = PromptFormat.forTokenizer(tok, layout: .chat, instruction: "Read.")
        let prefix = format.prefixIDs(tok)
        XCTAssertEqual(prefix.first, 258)
        XCTAssertEqual(prefix.filter { $0 == 258 }.count, 1, "one BOS per chunk: \(prefix.prefix(4))")
        // Combined cache: the first kept chunk whole, later chunks without their first token.
        let chunk = prefix + tok.encode("ab ab", parseSpecial: false, addBOS: false)
        let combined = chunk + Array(chunk.dropFirst()) + Array(chunk.dropFirst())
        XCTAssertEqual(combined.filter { $0 == 258 }.count, 1)
        // The official layout writes no BOS in its template; the pipeline puts the one BOS first.
        XCTAssertFalse(PromptFormat.forTokenizer(tok).prefixIDs(tok).contains(258))
        XCTAssertEqual(PromptFormat.bosID(tok), 258)
    }

    func testTokenizerFromSyntheticGGUF() throws {
        let f = try tokenizerGGUF(extra: [("tokenizer.ggml.bos_token_id", .u32(258)), ("tokenizer.ggml.add_bos_token", .bool(true)),
                                          ("tokenizer.chat_template", .string("{{'<|im_start|>' + message['role'] + '\\n'}}"))])
        let tok = try Tokenizer(gguf: f)
        XCTAssertEqual(tok.preTokenizer, .qwen2)
        XCTAssertEqual(tok.bosID, 258)
        XCTAssertEqual(tok.eotID, 257, "found by its text <|im_end|>")
        XCTAssertEqual(tok.encode("ab12"), [258, 259, tok.tokenID(for: "1")!, tok.tokenID(for: "2")!])
        XCTAssertEqual(tok.encode("ab", addBOS: false), [259])
        XCTAssertEqual(tok.chatTemplate, .chatml)
        XCTAssertNil(tok.defaultSystemPrompt, "this template writes no default system prompt")
        XCTAssertEqual(tok.renderChat([.user("hi")], addGenerationPrompt: false), "<|im_start|>user\nhi<|im_end|>\n")
        // No pre key: llama.cpp's "default", the GPT-2 regex.
        XCTAssertEqual(try Tokenizer(gguf: try tokenizerGGUF(pre: nil)).preTokenizer, .gpt2)
        XCTAssertEqual(try Tokenizer(gguf: try tokenizerGGUF(pre: "llama-bpe")).addBOSByDefault, true)
    }

    func testTokenizerGGUFErrorsNameTheProblem() throws {
        func assertError(_ f: GGUFFile, mentions: String, line: UInt = #line) {
            XCTAssertThrowsError(try Tokenizer(gguf: f), line: line) { e in
                XCTAssertTrue(e is TokenizerError, "\(type(of: e))", line: line)
                XCTAssertTrue("\(e)".contains(mentions), "\(e)", line: line)
                XCTAssertFalse("\(e)".contains("\n"), line: line)
            }
        }
        // SentencePiece ("llama") is read, but needs its scores.
        assertError(try tokenizerGGUF(model: "llama"), mentions: "tokenizer.ggml.scores")
        assertError(try tokenizerGGUF(model: "bert"), mentions: "\"bert\"")
        assertError(try tokenizerGGUF(pre: "tekken"), mentions: "\"tekken\"")
        assertError(try tokenizerGGUF(extra: [("tokenizer.ggml.eos_token_id", .u32(99999))]), mentions: "eos_token_id")
        var b = GGUFBuilder()
        b.metadata = [("general.architecture", .string("llama"))]
        assertError(try GGUFFile(path: try b.write(name: "notok")), mentions: "tokenizer.ggml.model")
    }

    // MARK: chat templates

    func testChatTemplates() {
        let chat: [ChatMessage] = [.user("Hi"), .assistant("Hello!"), .user("Bye")]
        XCTAssertEqual(ChatTemplate.chatml.render(messages: [.system("S"), .user("U")], addGenerationPrompt: false),
                       "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n", "a given system message replaces the default")
        XCTAssertEqual(ChatTemplate.chatml.render(messages: [], addGenerationPrompt: true), "<|im_start|>assistant\n")
        let ml = ChatTemplate.chatml.render(messages: chat, addGenerationPrompt: true)
        XCTAssertTrue(ml.hasPrefix("<|im_start|>system\n\(ChatTemplate.smolLMDefaultSystemPrompt)<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"))
        XCTAssertTrue(ml.hasSuffix("<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"))
        XCTAssertEqual(ChatTemplate.llama3.render(messages: [.system(" S "), .user("U\n")], addGenerationPrompt: true),
                       "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|>"
                       + "<|start_header_id|>assistant<|end_header_id|>\n\n")
        XCTAssertEqual(ChatTemplate.detect("{% for m in messages %}<|start_header_id|>{% endfor %}"), .llama3)
        XCTAssertEqual(ChatTemplate.detect("<|im_start|>"), .chatml)
        XCTAssertNil(ChatTemplate.detect("[INST]"))
        XCTAssertEqual(ChatTemplate.defaultSystemPrompt(in: "{{ '<|im_start|>system\\nBe brief.<|im_end|>\\n' }}"), "Be brief.")
        XCTAssertNil(ChatTemplate.defaultSystemPrompt(in: "{{ '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>' }}"))
    }

    // MARK: the long default text

    func testEssaysRoundTripAndSpeed() throws {
        let essays = try BiasprobeTestFiles.essays()
        let totalBytes = essays.reduce(0) { $0 + $1.1.utf8.count }
        let t0 = Date()
        let tok = try Tokenizer(gguf: GGUFFile(path: try BiasprobeTestFiles.requireModel()))
        let t1 = Date()
        let cold = essays.map { tok.encode($0.1) }
        let t2 = Date()
        let warm = essays.map { tok.encode($0.1) }
        let t3 = Date()
        XCTAssertEqual(cold, warm)
        let count = cold.reduce(0) { $0 + $1.count }
        for ((name, text), ids) in zip(essays, cold) {
            XCTAssertEqual(Array(tok.decode(ids).utf8), Array(text.utf8), name)
        }
        print(String(format: "tokenizer: %d essays, %d bytes, %d tokens; load %.3f s, encode cold %.3f s, warm %.3f s",
                     essays.count, totalBytes, count, t1.timeIntervalSince(t0), t2.timeIntervalSince(t1), t3.timeIntervalSince(t2)))
        XCTAssertGreaterThan(count, totalBytes / 8)
        #if !DEBUG
        XCTAssertLessThan(t2.timeIntervalSince(t1), 1.0, "tokenising the essays must take well under a second in release builds")
        #endif
    }
}
