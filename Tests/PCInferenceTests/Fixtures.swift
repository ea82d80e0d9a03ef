import Foundation
import XCTest
import PCInference
import TestSupport

/// Locates the default model and the golden files shared with the reference implementation.
enum Fixtures {
    static var packageRoot: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }

    static func modelPath() throws -> String {
        let env = ProcessInfo.processInfo.environment
        let path = env["BIASPROBE_MODEL"] ?? ((env["BIASPROBE_CACHE"] ?? (NSHomeDirectory() + "/.cache/biasprobe")) + "/SmolLM2-135M-Instruct.Q4_1.gguf")
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("default model missing at \(path): run scripts/setup.sh") as Error
        }
        return path
    }

    static var goldenDir: URL {
        if let g = ProcessInfo.processInfo.environment["BIASPROBE_GOLDEN"] { return URL(fileURLWithPath: g) }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/golden")
    }

    static func golden(_ name: String) throws -> [String: Any] {
        let url = goldenDir.appendingPathComponent(name)
        let data = try Data(contentsOf: url)
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// One model shared by every test in the process (loading takes about a second).
    nonisolated(unsafe) private static var _model: LlamaModel?
    static func model() throws -> LlamaModel {
        if let m = _model { return m }
        let m = try LlamaModel(path: try modelPath())
        _model = m
        return m
    }

    /// The tiny test model (TestSupport's, built from the default model's tokenizer; weights
    /// expanded) and its tokenizer, for tests whose assertions hold for any weights.
    static func tinyModel() throws -> (LlamaModel, Tokenizer) { try TinyModel.model(source: modelPath()) }

    /// The eviction lab's pipeline over the first `chars` characters of the golden passage, on
    /// the tiny model (or SmolLM2 with its weights expanded, where a test needs real attention).
    static func labPipeline(_ config: ParallelCompConfig, chars: Int, smolLM2: Bool = false) throws -> (ParallelCompPipeline, ParallelCompPipeline.Prepared) {
        let (model, tok) = smolLM2 ? (try expandedModel(), try Tokenizer(gguf: GGUFFile(path: modelPath()))) : try tinyModel()
        let text = try String(contentsOf: goldenDir.appendingPathComponent("passage.txt"), encoding: .utf8)
        return try LabPipeline.prepare(model: model, tokenizer: tok, config: config, passage: text, chars: chars)
    }

    /// A second shared model with its weights kept expanded (`expandWeights`), for the classes
    /// that run many short pipeline passes: each pass then skips re-expanding every matrix, as
    /// `biasprobe claims` does. The numbers are the same (ExpandedWeightsTests); the golden
    /// checks keep the default model, so both paths stay pinned.
    nonisolated(unsafe) private static var _expanded: LlamaModel?
    static func expandedModel() throws -> LlamaModel {
        if let m = _expanded { return m }
        let m = try LlamaModel(path: try modelPath())
        m.expandWeights()
        _expanded = m
        return m
    }
}
