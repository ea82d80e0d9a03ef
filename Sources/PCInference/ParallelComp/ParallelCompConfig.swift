/// Every knob of the ParallelComp pipeline. Codable, so a run can be configured from JSON and
/// its exact settings echoed into outputs and traces.
public struct ParallelCompConfig: Codable, Sendable, Equatable {
    public enum SplitBy: String, Codable, Sendable, CaseIterable {
        /// Near-equal token counts (the default).
        case tokens
        /// Tokens, each chunk ending at a sentence end when one is in its second half.
        case sentences
        /// The official code's character split.
        case characters
    }
    public enum Selection: String, Codable, Sendable, CaseIterable {
        /// Keep the chunks whose question NLL is lowest (the paper's behaviour).
        case lowestNLL = "lowest"
        /// Keep the highest-NLL chunks: what the official code does for a positive topk_windows.
        case highestNLL = "highest"
    }
    public enum NLLFormula: String, Codable, Sendable, CaseIterable {
        /// Mean NLL over the scored question tokens.
        case mean
        /// The official code's: sum over the scored tokens divided by (count - 1).
        case official
    }

    /// Longest chunk in tokens, template included (nil: trained context - question - answer budget).
    public var chunkTokens: Int?
    public var splitBy: SplitBy = .tokens
    /// Chunks kept for the question (the paper: 3; 1 for retrieval).
    public var keepChunks: Int = 3
    public var selection: Selection = .lowestNLL
    /// Question tokens scored for the NLL: 0 = all of them, else the last n.
    public var scoreTokens: Int = 0
    public var nllFormula: NLLFormula = .mean
    /// Keep every kept chunk's first token in the combined cache (ablation); the default keeps
    /// only the first kept chunk's, as the official code does.
    public var keepEveryChunkFirstToken = false
    /// Chunks prefilled together in one pass (throughput; results equal the one-by-one path).
    public var batchChunks: Int = 1

    /// SnapKV-style per-chunk compression (nil = off).
    public var compression: Compression?
    public struct Compression: Codable, Sendable, Equatable {
        /// Context tokens kept per chunk and head.
        public var capacity: Int
        /// Last question rows whose attention scores the keys.
        public var window: Int = 8
        /// Max-pool kernel over key scores.
        public var kernel: Int = 7
        public init(capacity: Int, window: Int = 8, kernel: Int = 7) { self.capacity = capacity; self.window = window; self.kernel = kernel }
    }

    /// Attention calibration: evict abnormally high-scoring keys (nil/empty = off).
    public var calibration: [CalibrationRule] = []
    /// Threshold on a key's mean attention from the last `calibrationRows` question rows.
    public var lambda: Float = 0.1
    public var calibrationRows: Int = 1
    /// Width of the sink and recent bands used by calibration.
    public var bandWidth: Int = 100
    /// Pad every head's eviction to the same count with its lowest-scoring keys (official code).
    public var equalizeHeads = true

    public var maxNewTokens: Int = 32
    public var sampling = SamplingSettings()

    public init() {}
}

/// Evict keys above lambda in one band over a range of layers, at one stage.
public struct CalibrationRule: Codable, Sendable, Equatable, CustomStringConvertible {
    public enum Band: String, Codable, Sendable, CaseIterable { case sink, middle, recent, all }
    public enum Stage: String, Codable, Sendable, CaseIterable {
        /// Per chunk during its own prefill; bands are the chunk's own first/last tokens.
        case chunk
        /// Over the combined cache during the question prefill; bands are global.
        case query
    }
    public var band: Band
    /// 0-based, inclusive.
    public var layers: ClosedRange<Int>
    public var stage: Stage

    public init(band: Band, layers: ClosedRange<Int>, stage: Stage = .query) { self.band = band; self.layers = layers; self.stage = stage }

    public var description: String { "\(band.rawValue):\(layers.lowerBound)-\(layers.upperBound)@\(stage.rawValue)" }

    /// Parses "middle:0-7,recent:8-15@chunk" or "paper" (the paper's final setting mapped to this
    /// depth: middle in the first quarter, recent in the second, sink in the last).
    public static func parseList(_ text: String, layerCount: Int) throws -> [CalibrationRule] {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.isEmpty || t == "none" || t == "off" { return [] }
        if t == "paper" || t.hasPrefix("paper@") {
            let stage = t.hasPrefix("paper@") ? try parseStage(String(t.dropFirst(6))) : .query
            let q = layerCount / 4
            return [CalibrationRule(band: .middle, layers: 0...(q - 1), stage: stage),
                    CalibrationRule(band: .recent, layers: q...(2 * q - 1), stage: stage),
                    CalibrationRule(band: .sink, layers: (layerCount - q)...(layerCount - 1), stage: stage)]
        }
        return try t.split(separator: ",").map { item in
            var s = String(item).trimmingCharacters(in: .whitespaces)
            var stage = Stage.query
            if let at = s.firstIndex(of: "@") { stage = try parseStage(String(s[s.index(after: at)...])); s = String(s[..<at]) }
            let parts = s.split(separator: ":")
            guard parts.count == 2, let band = Band(rawValue: String(parts[0])) else {
                throw ConfigError("calibration rule '\(item)' is not BAND:FIRST-LAST (BAND one of sink, middle, recent, all)")
            }
            let r = parts[1].split(separator: "-")
            guard (1...2).contains(r.count), let lo = Int(r[0]), let hi = Int(r.last!), lo <= hi else {
                throw ConfigError("calibration rule '\(item)': layer range must be FIRST-LAST with FIRST <= LAST")
            }
            guard lo >= 0, hi < layerCount else {
                throw ConfigError("calibration rule '\(item)': layers \(lo)-\(hi) are outside the model's 0-\(layerCount - 1)")
            }
            return CalibrationRule(band: band, layers: lo...hi, stage: stage)
        }
    }

    static func parseStage(_ s: String) throws -> Stage {
        guard let st = Stage(rawValue: s) else { throw ConfigError("calibration stage '\(s)' must be chunk or query") }
        return st
    }
}

public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ m: String) { description = m }
}

import Foundation
