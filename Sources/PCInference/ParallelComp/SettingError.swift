/// A pipeline or eviction-lab setting that cannot work: which setting, and what is wrong. The
/// library names settings as `ParallelCompConfig` and `EvictionLabSettings` store them (`fields`);
/// a front end says it in its own words (the command line names its flags).
public enum SettingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// evictionLab: neither or both of budget and ratio.
    case budgetAndRatio
    /// evictionLab.budget below 1.
    case budgetBelowOne
    /// evictionLab.ratio outside (0, 1].
    case ratioOutOfRange
    /// evictionLab.sink or evictionLab.recent below 0.
    case negativeSinkOrRecent
    /// evictionLab: the protected sink and recent tokens exceed the budget.
    case protectedOverBudget(sink: Int, recent: Int, budget: Int)
    /// evictionLab.window below 1 or evictionLab.kernel not odd, for a policy that pools scores.
    case windowOrKernel
    /// evictionLab.beta (PyramidKV) below 1.
    case betaBelowOne
    /// evictionLab.decodeEviction for a policy with no rule during decoding (`policy` is its name).
    case decodeEvictionUnsupported(policy: String)
    /// evictionLab.oracleChunk in the kvpress setting, which has one chunk.
    case oracleChunkInKVPress
    /// The kvpress setting run without an evictionLab policy or over more than one chunk.
    case kvpressNeedsPolicyAndCausal
    /// The kvpress setting's context took `chunks` chunks, not one (causal, inside the trained context).
    case kvpressNeedsOneChunk(chunks: Int)
    /// One prefill for every lab point: needs causal and kvpress-setting policies without decodeEviction.
    case sharedPrefillNeedsCausalKVPress
    /// One chunk pass for every lab point: needs ParallelComp-setting policies with one oracleChunk
    /// choice and no decodeEviction, and no compression, chunk-stage calibration or batched chunks
    /// (they change the chunk pass itself).
    case sharedChunkPassesUnsupported
    /// ExpectedAttention asked for on a model whose queries and keys are normed per head.
    case expectedAttentionNeedsNoQKNorm(model: String, architecture: String)
    /// keepChunks below 1.
    case keepChunksBelowOne
    /// evictionLab with batchChunks above 1 (a policy needs one pass per chunk).
    case labWithBatchedChunks
    /// batchChunks above 1 with compression or chunk-stage calibration (they need one pass per chunk).
    case batchedChunksNeedOnePass
    /// The chunk size is not below the length budget R (rawModelMaxLen) the character split needs.
    case chunkNotBelowLengthBudget(chunkTokens: Int, budget: Int)

    /// The settings concerned, as stored in a config file (`ParallelCompConfig`'s keys).
    public var fields: [String] {
        switch self {
        case .budgetAndRatio: return ["evictionLab.budget", "evictionLab.ratio"]
        case .budgetBelowOne: return ["evictionLab.budget"]
        case .ratioOutOfRange: return ["evictionLab.ratio"]
        case .negativeSinkOrRecent: return ["evictionLab.sink", "evictionLab.recent"]
        case .protectedOverBudget: return ["evictionLab.sink", "evictionLab.recent", "evictionLab.budget"]
        case .windowOrKernel: return ["evictionLab.window", "evictionLab.kernel"]
        case .betaBelowOne: return ["evictionLab.beta"]
        case .decodeEvictionUnsupported: return ["evictionLab.decodeEviction", "evictionLab.kind"]
        case .oracleChunkInKVPress: return ["evictionLab.oracleChunk", "evictionLab.setting"]
        case .kvpressNeedsPolicyAndCausal: return ["evictionLab", "causal"]
        case .kvpressNeedsOneChunk: return ["causal", "evictionLab.setting"]
        case .sharedPrefillNeedsCausalKVPress: return ["causal", "evictionLab.setting", "evictionLab.decodeEviction"]
        case .sharedChunkPassesUnsupported: return ["evictionLab.setting", "evictionLab.oracleChunk", "evictionLab.decodeEviction", "compression", "calibration", "batchChunks"]
        case .expectedAttentionNeedsNoQKNorm: return ["evictionLab.kind"]
        case .keepChunksBelowOne: return ["keepChunks"]
        case .labWithBatchedChunks: return ["evictionLab", "batchChunks"]
        case .batchedChunksNeedOnePass: return ["batchChunks", "compression", "calibration"]
        case .chunkNotBelowLengthBudget: return ["chunkTokens", "rawModelMaxLen"]
        }
    }

    public var description: String {
        switch self {
        case .budgetAndRatio: return "evictionLab needs exactly one of budget or ratio"
        case .budgetBelowOne: return "evictionLab.budget must be at least 1"
        case .ratioOutOfRange: return "evictionLab.ratio must be in (0, 1]"
        case .negativeSinkOrRecent: return "evictionLab.sink and evictionLab.recent must be at least 0"
        case let .protectedOverBudget(sink, recent, budget): return "evictionLab.sink \(sink) + recent \(recent) exceed its budget \(budget)"
        case .windowOrKernel: return "the policy's window must be >= 1 and its kernel odd"
        case .betaBelowOne: return "PyramidKV's beta must be at least 1"
        case .decodeEvictionUnsupported(let p): return "evictionLab.decodeEviction is defined for the tova and h2o policies only (not \(p))"
        case .oracleChunkInKVPress: return "evictionLab.oracleChunk is for the ParallelComp setting (the kvpress setting has one chunk)"
        case .kvpressNeedsPolicyAndCausal: return "the kvpress setting needs an evictionLab policy and causal attention (one chunk)"
        case .kvpressNeedsOneChunk(let n): return "the kvpress setting needs the context in one chunk (causal, inside the trained context); it took \(n)"
        case .sharedPrefillNeedsCausalKVPress: return "one prefill for every point needs causal attention and kvpress-setting policies without decodeEviction"
        case .sharedChunkPassesUnsupported:
            return "one chunk pass for every point needs parallelcomp-setting policies with one oracleChunk choice and no decodeEviction, and no compression, chunk-stage calibration or batchChunks > 1"
        case let .expectedAttentionNeedsNoQKNorm(m, a): return Self.qkNormText(model: m, architecture: a, option: "evictionLab.kind")
        case .keepChunksBelowOne: return "keepChunks must be at least 1"
        case .labWithBatchedChunks: return "an eviction-lab policy needs one pass per chunk (not batchChunks > 1)"
        case .batchedChunksNeedOnePass: return "batchChunks > 1 cannot be combined with compression or chunk-stage calibration (they need one pass per chunk)"
        case let .chunkNotBelowLengthBudget(cw, r): return "chunk size \(cw) is not below the length budget R = \(r) (rawModelMaxLen) that the character split needs"
        }
    }

    /// One wording for the QK-norm refusal, with the option named as the front end names it.
    public static func qkNormText(model: String, architecture: String, option: String) -> String {
        "\(option): expected-attention cannot run on \(model) (\(architecture)): its queries and keys are RMS-normed per head, so the query moments it predicts attention from do not hold; kvpress refuses such models too (use another policy)"
    }
}
