/// Every knob of the ParallelComp pipeline. Codable, so a run can be configured from JSON and
/// its exact settings echoed into outputs and traces.
public struct ParallelCompConfig: Codable, Sendable, Equatable {
    public enum SplitBy: String, Codable, Sendable, CaseIterable {
        /// Near-equal token counts of the document's tokens.
        case tokens
        /// Tokens, each chunk ending at a sentence end when one is in its second half.
        case sentences
        /// The official code's character split (the default): n = ceil(T / Cw) with BOS counted,
        /// the text cut every floor(N / n) characters, the template added after the split, chunks
        /// longer than F middle-cut (`Chunker.officialSplit`).
        case characters
    }
    /// Which tokens end decoding.
    public enum StopTokens: String, Codable, Sendable, CaseIterable {
        /// The official code: the tokenizer's EOS only (`eos_token_id`).
        case eos
        /// EOS, EOT and the chat formats' end-of-turn markers (`Tokenizer.stopTokenIDs`).
        case all
    }
    public enum Selection: String, Codable, Sendable, CaseIterable {
        /// Keep the chunks whose question NLL is lowest (the paper's behaviour).
        case lowestNLL = "lowest"
        /// Keep the highest-NLL chunks: what the official code does for a positive topk_windows.
        case highestNLL = "highest"
    }
    public enum NLLFormula: String, Codable, Sendable, CaseIterable {
        /// Mean NLL over the scored labels.
        case mean
        /// The official code's (spec section 2): the sum over the scored labels that are not EOS,
        /// divided by (that count - 1). With the question BOS, its label is one of them.
        case official
    }
    /// What ranks the chunks for the keep-K heap (spec section 2).
    public enum Ranking: String, Codable, Sendable, CaseIterable {
        /// The question's NLL given the chunk (`query_rank=true`, the README setting).
        case question
        /// The whole chunk input's own NLL, context and question (`query_rank=false`): the
        /// official sum over its labels that are not EOS / ((L - 1) - 1).
        case chunk
        /// A uniform random score in [0, 3) per chunk (`shuffle` in the official pattern), from
        /// `rankingSeed`: the random-selection ablation.
        case random
    }
    /// Which chunk the keep-K heap drops when two scores are equal.
    public enum TieBreak: String, Codable, Sendable, CaseIterable {
        /// The official code (spec section 2): the heap pops the earlier chunk, the later stays.
        case keepLater = "later"
        /// Clean variant: the earlier chunk stays.
        case keepEarlier = "earlier"
    }
    /// Which rows of a chunk pass lose the keys chunk-stage calibration evicts.
    public enum ChunkCalibrationRows: String, Codable, Sendable, CaseIterable {
        /// The official code (spec section 4.5, errata): every row of the pass uses the reduced K/V.
        case all
        /// Clean variant: only the question rows lose them; the chunk's own rows see every key.
        case question
    }
    /// Where a calibration band ends (n candidate keys, width w).
    public enum BandEdges: String, Codable, Sendable, CaseIterable {
        /// The official code (spec section 4.2): sink i < w, recent i > n - w, middle w < i < n - w;
        /// keys w and n - w belong to no band.
        case official
        /// Clean variant: sink i < w, recent i >= n - w, middle the rest (the bands tile the keys).
        case tiled
    }

    /// Longest chunk in tokens, template and BOS included: the official `context_max_len`, Cw
    /// (nil: R - 2 (m + 1), so no chunk pass ever cuts the question; m = question tokens).
    public var chunkTokens: Int?
    /// The official `raw_model_max_len`, R: bounds a chunk pass and the final question on the
    /// character split (nil: the trained context minus the answer budget). Chunks longer than
    /// F = Cw + (R - Cw) / 2 are middle-cut, a chunk pass keeps the last R - c - 1 question tokens
    /// at most, and a final question that would pass R is middle-cut.
    public var rawModelMaxLen: Int?
    public var splitBy: SplitBy = .characters
    /// Chunks kept for the question (the paper: 3; 1 for retrieval).
    public var keepChunks: Int = 3
    public var selection: Selection = .lowestNLL
    /// Question tokens scored for the NLL: 0 = all of them, else the last n.
    public var scoreTokens: Int = 0
    public var nllFormula: NLLFormula = .official
    /// Prefix the question with BOS, in every chunk pass (`BOS ctx BOS q`) and in the final
    /// question (`BOS q`), as the official code does (spec sections 1.5, 1.8).
    public var questionBOS = true
    public var tieBreak: TieBreak = .keepLater
    public var ranking: Ranking = .question
    public var rankingSeed: UInt64 = 0
    /// Keep every kept chunk's first token in the combined cache (ablation); the default keeps
    /// only the first kept chunk's, as the official code does.
    public var keepEveryChunkFirstToken = false
    /// Let later chunks' first token (their BOS) be evicted by SnapKV and chunk-stage calibration.
    /// Off in the official code (token_prompt_size = 1 for every chunk but the document's first).
    public var evictChunkFirstToken = false
    /// With SnapKV, every kept chunk after the first loses its first kept token at combine time:
    /// the official slice [1:] assumes a BOS that SnapKV never kept (spec section 3.1, Q8).
    public var snapKVDropFirstKept = true
    /// Chunks prefilled together in one pass (throughput; results equal the one-by-one path).
    public var batchChunks: Int = 1

    /// SnapKV-style per-chunk compression (nil = off).
    public var compression: Compression?
    public struct Compression: Codable, Sendable, Equatable {
        /// Where compression happens: in every chunk pass (`kv_cache_eviction`, section 3.1) or
        /// once over the combined cache and question after the question prefill
        /// (`stage_eviction`, section 3.2; it changes what decoding sees).
        public enum Stage: String, Codable, Sendable, CaseIterable { case chunk, question }
        /// Context tokens kept per chunk and head.
        public var capacity: Int
        /// Last question rows whose attention scores the keys.
        public var window: Int = 8
        /// Max-pool kernel over key scores.
        public var kernel: Int = 7
        public var stage: Stage = .chunk
        /// Keep evicting during decoding (`kv_cache_dynamic`, section 3.3): one key per head and
        /// generated token, so the cache stays at the size the question prefill left. Off in the
        /// official README; only with per-chunk compression.
        public var decodeEviction = false
        public init(capacity: Int, window: Int = 8, kernel: Int = 7, stage: Stage = .chunk, decodeEviction: Bool = false) {
            self.capacity = capacity; self.window = window; self.kernel = kernel; self.stage = stage; self.decodeEviction = decodeEviction
        }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            capacity = try c.decode(Int.self, forKey: .capacity)
            window = try c.decodeIfPresent(Int.self, forKey: .window) ?? 8
            kernel = try c.decodeIfPresent(Int.self, forKey: .kernel) ?? 7
            stage = try c.decodeIfPresent(Stage.self, forKey: .stage) ?? .chunk
            decodeEviction = try c.decodeIfPresent(Bool.self, forKey: .decodeEviction) ?? false
        }
    }

    /// An eviction-lab policy applied in every chunk pass where SnapKV compression would run
    /// (nil = off; exclusive with `compression`). docs/eviction-lab.md.
    public var evictionLab: EvictionLabSettings?
    /// Variant: plain causal attention within the trained context. The whole context is one
    /// chunk (refused when context, question and answer exceed the trained context), so the
    /// pipeline reduces to one causal prefill, the lab policy's eviction, and the question.
    public var causal = false

    /// Attention calibration: evict abnormally high-scoring keys (nil/empty = off).
    public var calibration: [CalibrationRule] = []
    /// Threshold on a key's mean attention from the last `calibrationRows` question rows.
    public var lambda: Float = 0.1
    /// Rows of the pass whose softmax scores the keys (`RECENT_TOKENS`): the last r, each over
    /// every key of the pass with no causal mask (the official code scores apart from
    /// flash-attention); 0 = every row of the pass.
    public var calibrationRows: Int = 1
    /// Width of the sink and recent bands used by calibration.
    public var bandWidth: Int = 100
    /// Pad every head's eviction to the same count with its lowest-scoring keys (official code).
    public var equalizeHeads = true
    public var bandEdges: BandEdges = .official
    /// Question-stage calibration may evict the question's own keys (official: its candidates
    /// are all keys, spec section 4.2); true keeps them out of reach.
    public var protectQuestionKeys = false
    public var chunkCalibrationRows: ChunkCalibrationRows = .all
    /// How the rows of a pass see keys evicted during it (official: flash-attention's
    /// bottom-right-aligned causal mask over the shortened cache).
    public var evictionAlignment: EvictionAlignment = .bottomRight
    /// A matched control for calibration (claims protocol v3): the rule still decides how many
    /// keys each head loses in each pass; the control decides which. Not an official setting.
    public var calibrationControl: CalibrationControl = .none
    /// Seed of the `random` control's draws (mixed with layer, pass and head).
    public var calibrationControlSeed: UInt64 = 0
    /// Protocol v5: the rule run's evictions per pass to replay (`Result.calibrationCounts`).
    /// With a control set, every head then loses exactly as many keys in every pass and layer
    /// as the rule run took there, instead of as many as the rule would take in the control's
    /// own pass (whose attention earlier random evictions have already changed).
    public var calibrationControlCounts: CalibrationCounts?

    public enum CalibrationControl: String, Codable, Sendable, CaseIterable {
        /// The rule's own keys (the official behaviour).
        case none
        /// As many keys per head, drawn uniformly from that head's candidates still present.
        case random
        /// As many keys per head, that head's lowest-scoring candidates (ties: the earlier key).
        case lowest
    }

    /// The calibration rules that act at one stage.
    public func calibrationRules(at stage: CalibrationRule.Stage) -> [CalibrationRule] {
        calibration.filter { $0.stage == stage && $0.acts }
    }

    public var maxNewTokens: Int = 32
    public var stopTokens: StopTokens = .eos
    public var sampling = SamplingSettings()

    public init() {}

    /// Missing keys take their defaults, so configs written by earlier versions (in traces and
    /// --config files) still load.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ParallelCompConfig()
        func v<T: Decodable>(_ k: CodingKeys, _ def: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? def }
        chunkTokens = try c.decodeIfPresent(Int.self, forKey: .chunkTokens)
        rawModelMaxLen = try c.decodeIfPresent(Int.self, forKey: .rawModelMaxLen)
        splitBy = try v(.splitBy, d.splitBy)
        keepChunks = try v(.keepChunks, d.keepChunks)
        selection = try v(.selection, d.selection)
        scoreTokens = try v(.scoreTokens, d.scoreTokens)
        nllFormula = try v(.nllFormula, d.nllFormula)
        questionBOS = try v(.questionBOS, d.questionBOS)
        tieBreak = try v(.tieBreak, d.tieBreak)
        ranking = try v(.ranking, d.ranking)
        rankingSeed = try v(.rankingSeed, d.rankingSeed)
        keepEveryChunkFirstToken = try v(.keepEveryChunkFirstToken, d.keepEveryChunkFirstToken)
        evictChunkFirstToken = try v(.evictChunkFirstToken, d.evictChunkFirstToken)
        snapKVDropFirstKept = try v(.snapKVDropFirstKept, d.snapKVDropFirstKept)
        batchChunks = try v(.batchChunks, d.batchChunks)
        compression = try c.decodeIfPresent(Compression.self, forKey: .compression)
        evictionLab = try c.decodeIfPresent(EvictionLabSettings.self, forKey: .evictionLab)
        causal = try v(.causal, d.causal)
        calibration = try v(.calibration, d.calibration)
        lambda = try v(.lambda, d.lambda)
        calibrationRows = try v(.calibrationRows, d.calibrationRows)
        bandWidth = try v(.bandWidth, d.bandWidth)
        equalizeHeads = try v(.equalizeHeads, d.equalizeHeads)
        bandEdges = try v(.bandEdges, d.bandEdges)
        protectQuestionKeys = try v(.protectQuestionKeys, d.protectQuestionKeys)
        chunkCalibrationRows = try v(.chunkCalibrationRows, d.chunkCalibrationRows)
        evictionAlignment = try v(.evictionAlignment, d.evictionAlignment)
        calibrationControl = try v(.calibrationControl, d.calibrationControl)
        calibrationControlSeed = try v(.calibrationControlSeed, d.calibrationControlSeed)
        calibrationControlCounts = try c.decodeIfPresent(CalibrationCounts.self, forKey: .calibrationControlCounts)
        maxNewTokens = try v(.maxNewTokens, d.maxNewTokens)
        stopTokens = try v(.stopTokens, d.stopTokens)
        sampling = try v(.sampling, d.sampling)
    }
}

/// Evict keys above lambda in one band over a range of layers, at one stage.
public struct CalibrationRule: Codable, Sendable, Equatable, CustomStringConvertible {
    /// A chunk band (`KeyBand`) or all of the candidates.
    public enum Band: String, Codable, Sendable, CaseIterable {
        case sink, middle, recent, all
        /// The band's keys; nil for `all`.
        public var keyBand: KeyBand? { self == .all ? nil : KeyBand(rawValue: rawValue) }
    }
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
    /// Per head (the `head_*` official strings). False: the head-agnostic variant (spec 4.4),
    /// which averages the score over heads and evicts every key above lambda from all heads,
    /// with no band filter.
    public var perHead = true

    public init(band: Band, layers: ClosedRange<Int>, stage: Stage = .query, perHead: Bool = true) {
        self.band = band; self.layers = layers; self.stage = stage; self.perHead = perHead
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        band = try c.decode(Band.self, forKey: .band)
        layers = try c.decode(ClosedRange<Int>.self, forKey: .layers)
        stage = try c.decode(Stage.self, forKey: .stage)
        perHead = try c.decodeIfPresent(Bool.self, forKey: .perHead) ?? true
    }

    /// Whether the rule evicts anything. The official code has no head-agnostic branch at the
    /// chunk stage (`prefill_1_calibration_I_J`: its prefill_1 path runs only under "head"), so
    /// that rule is accepted, echoed, and evicts nothing.
    public var acts: Bool { perHead || stage == .query }

    public var description: String {
        "\(perHead ? band.rawValue : "heads"):\(layers.lowerBound)-\(layers.upperBound)@\(stage.rawValue)"
    }

    /// Parses "middle:0-7,recent:8-15@chunk" or "paper" (the paper's final setting mapped to this
    /// depth: middle in the first quarter, recent in the second, sink in the last).
    public static func parseList(_ text: String, layerCount: Int) throws -> [CalibrationRule] {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.isEmpty || t == "none" || t == "off" { return [] }
        if t == "paper" || t.hasPrefix("paper@") {
            // Appendix C applies the bands per chunk (the official code's prefill_1 form).
            let stage = t.hasPrefix("paper@") ? try parseStage(String(t.dropFirst(6))) : .chunk
            let q = layerCount / 4
            return [CalibrationRule(band: .middle, layers: 0...(q - 1), stage: stage),
                    CalibrationRule(band: .recent, layers: q...(2 * q - 1), stage: stage),
                    CalibrationRule(band: .sink, layers: (layerCount - q)...(layerCount - 1), stage: stage)]
        }
        return try t.split(separator: ",").map { item in
            var s = String(item).trimmingCharacters(in: .whitespaces)
            if let official = try parseOfficial(s, layerCount: layerCount) { return official }
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

    /// The official flag strings, e.g. `prefill_2_calibration_head_sink_23_29` (question stage)
    /// or `prefill_1_calibration_head_middle_0_29` (chunk stage); layers 0-based, inclusive.
    static func parseOfficial(_ s: String, layerCount: Int) throws -> CalibrationRule? {
        guard s.hasPrefix("prefill_") else { return nil }
        let p = s.split(separator: "_").map(String.init)
        // Without "head": the head-agnostic variant, prefill_2_calibration_FIRST_LAST.
        if p.count == 5, p[0] == "prefill", p[2] == "calibration", let lo = Int(p[3]), let hi = Int(p[4]), lo <= hi,
           let stage: Stage = p[1] == "1" ? .chunk : p[1] == "2" ? .query : nil {
            guard lo >= 0, hi < layerCount else {
                throw ConfigError("calibration '\(s)': layers \(lo)-\(hi) are outside the model's 0-\(layerCount - 1)")
            }
            return CalibrationRule(band: .all, layers: lo...hi, stage: stage, perHead: false)
        }
        guard p.count == 7, p[0] == "prefill", p[2] == "calibration", p[3] == "head",
              let stage: Stage = p[1] == "1" ? .chunk : p[1] == "2" ? .query : nil,
              let band = Band(rawValue: p[4]), let lo = Int(p[5]), let hi = Int(p[6]), lo <= hi else {
            throw ConfigError("calibration '\(s)' is not prefill_{1|2}_calibration_head_{sink|middle|recent|all}_FIRST_LAST or prefill_2_calibration_FIRST_LAST")
        }
        guard lo >= 0, hi < layerCount else {
            throw ConfigError("calibration '\(s)': layers \(lo)-\(hi) are outside the model's 0-\(layerCount - 1)")
        }
        return CalibrationRule(band: band, layers: lo...hi, stage: stage)
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
