import Foundation
import XCTest
import PCInference

/// The Gemma 3 270M model scripts/setup.sh fetches, and its golden files (shared/golden/gemma3).
enum Gemma3Fixtures {
    static func modelPath() throws -> String {
        let env = ProcessInfo.processInfo.environment
        let path = env["BIASPROBE_GEMMA3"] ?? ((env["BIASPROBE_CACHE"] ?? (NSHomeDirectory() + "/.cache/biasprobe")) + "/gemma-3-270m-q4_k_m.gguf")
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("Gemma 3 model missing at \(path): run scripts/setup.sh") as Error
        }
        return path
    }

    static func golden(_ name: String) throws -> [String: Any] { try Fixtures.golden("gemma3/" + name) }

    /// The tokenizer alone (the tokenizer tests need no weights).
    nonisolated(unsafe) private static var loadedTokenizer: Tokenizer?
    static func tokenizer() throws -> Tokenizer {
        if let t = loaded?.1 ?? loadedTokenizer { return t }
        let t = try Tokenizer(gguf: GGUFFile(path: try modelPath()))
        loadedTokenizer = t
        return t
    }

    /// One model and tokenizer shared by every Gemma 3 test in the process.
    nonisolated(unsafe) private static var loaded: (LlamaModel, Tokenizer)?
    static func model() throws -> (LlamaModel, Tokenizer) {
        if let m = loaded { return m }
        let gguf = try GGUFFile(path: try modelPath())
        let m = (try LlamaModel(gguf: gguf), try Tokenizer(gguf: gguf))
        loaded = m
        return m
    }

    /// Worst absolute difference, printed so the test log records the measured error.
    @discardableResult
    static func assertClose(_ got: [Double], _ want: [Double], _ tol: Double, _ what: String,
                            file: StaticString = #filePath, line: UInt = #line) -> Double {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        var worst = 0.0
        for (g, w) in zip(got, want) { worst = max(worst, abs(g - w)) }
        XCTAssertLessThanOrEqual(worst, tol, "\(what): worst abs error \(worst)", file: file, line: line)
        print("gemma3 \(what): worst abs error \(worst)")
        return worst
    }
}
