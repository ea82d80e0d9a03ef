import PCInference

extension SettingError {
    /// The problem in the command line's words: the flags that set it (the messages users saw
    /// when the library named flags itself).
    var commandLineText: String {
        switch self {
        case .budgetAndRatio: return "--policy needs exactly one of --budget N or --ratio R"
        case .budgetBelowOne: return "--budget must be at least 1"
        case .ratioOutOfRange: return "--ratio must be in (0, 1]"
        case .negativeSinkOrRecent: return "--sink and --recent must be at least 0"
        case let .protectedOverBudget(sink, recent, budget): return "--sink \(sink) + --recent \(recent) exceed --budget \(budget)"
        case .windowOrKernel, .betaBelowOne: return description
        case .decodeEvictionUnsupported(let p): return "--decode-eviction is defined for --policy tova and h2o only (not \(p))"
        case .oracleChunkInKVPress: return "--oracle-chunk is for the ParallelComp setting (the kvpress setting has one chunk)"
        case .kvpressNeedsPolicyAndCausal: return "the kvpress setting needs --policy and --causal (one chunk)"
        case .kvpressNeedsOneChunk(let n): return "the kvpress setting needs the context in one chunk (--causal inside the trained context); it took \(n)"
        case .sharedPrefillNeedsCausalKVPress: return "one prefill for every point needs --causal and kvpress-setting policies without --decode-eviction"
        case .sharedChunkPassesUnsupported:
            return "one chunk pass for every point needs parallelcomp-setting policies with one --oracle-chunk choice and no --decode-eviction, and no --capacity, chunk-stage calibration or --batch-chunks > 1"
        case let .expectedAttentionNeedsNoQKNorm(m, a): return SettingError.qkNormText(model: m, architecture: a, option: "--policy")
        case .keepChunksBelowOne: return "--keep-chunks must be at least 1"
        case .labWithBatchedChunks: return "an eviction-lab policy needs one pass per chunk (not --batch-chunks > 1)"
        case .batchedChunksNeedOnePass: return "--batch-chunks > 1 cannot be combined with compression or chunk-stage calibration (they need one pass per chunk)"
        case let .chunkNotBelowLengthBudget(cw, r): return "chunk size \(cw) is not below the length budget R = \(r) (--raw-model-max-len) that the character split needs"
        }
    }
}

/// An error's message as the command line prints it: a library setting error in flag names,
/// anything else as it describes itself.
func commandLineText(_ error: Error) -> String {
    (error as? SettingError)?.commandLineText ?? "\(error)"
}
