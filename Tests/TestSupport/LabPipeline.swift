import PCInference

/// The eviction lab's pipeline as its tests build it, shared by the library-level tests
/// (PCInferenceTests) and the shared-pass tests next to the command line (BiasProbeTests).
public enum LabPipeline {
    /// A pipeline over the first `chars` characters of `passage` with one fixed question, the
    /// memo off so that every run really runs.
    public static func prepare(model: LlamaModel, tokenizer: Tokenizer, config: ParallelCompConfig,
                               passage: String, chars: Int) throws -> (ParallelCompPipeline, ParallelCompPipeline.Prepared) {
        let pc = ParallelCompPipeline(model: model, tokenizer: tokenizer, config: config, format: PromptFormat.forTokenizer(tokenizer))
        pc.memo = nil
        return (pc, try pc.prepare(context: String(passage.prefix(chars)), question: "What is the passage about?"))
    }

    /// The kvpress setting's base: plain causal attention, four answer tokens.
    public static var kvpressBase: ParallelCompConfig {
        var c = ParallelCompConfig()
        c.causal = true; c.maxNewTokens = 4
        return c
    }
}
