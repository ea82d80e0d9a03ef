import ArgumentParser
import Foundation
import PCInference
import ProbeAnalysis

/// `bench eviction-lab`: the lab's (policy, ratio) grid on one context, run point by point (a
/// prefill each: the context in the kvpress setting, every chunk pass in the ParallelComp
/// setting) and with one prefill serving every point, timed side by side, and whether the two
/// give identical results.
struct BenchEvictionLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eviction-lab",
        abstract: "Eviction lab: every (policy, ratio) point run one by one against one prefill for all, timed.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Context length (kvpress setting: inside the trained context).", transform: ContextLength.argument) var tokens = ContextLength(argument: "4096")!
    @Option(help: "kvpress (one causal context) or parallelcomp (eviction in every chunk pass).") var setting: EvictionLabSettings.Setting = .kvpress
    @Option(help: "parallelcomp setting: tokens per chunk.") var chunkTokens = 512
    @Option(help: "parallelcomp setting: chunks kept.") var keepChunks = 1
    @Flag(help: "parallelcomp setting: force the middle chunk to be kept (as --oracle-chunk keeps the evidence chunk).") var oracleChunk = false
    @Option(help: ArgumentHelp("Policies (default: \(LabPolicyList.defaultText), expected-attention left out on QK-norm models).", valueName: "list"))
    var policies: String?
    @Option(help: "Kept ratios.") var ratios = "0.25,0.5,0.75,0.875"
    @Option(help: "Tokens generated per point.") var maxTokens = 8
    @Flag(help: "JSON on stdout.") var json = false

    func run() throws {
        let list = try LabPolicyList(policies)
        let rs = try ratios.split(separator: ",").map { v -> Double in
            guard let r = Double(v), r > 0, r <= 1 else { throw ValidationError("--ratios: '\(v)' is not in (0, 1]") }
            return r
        }
        let pc = setting == .parallelComp
        if !pc && oracleChunk { throw ValidationError("--oracle-chunk is for --setting parallelcomp (the kvpress setting has one chunk)") }
        guard keepChunks >= 1 else { throw ValidationError("--keep-chunks must be at least 1") }
        let (model, tok, _) = try modelOptions.load()
        let kinds = try list.fitted(to: model.config)
        let T = tokens.tokens
        let inContext = pc ? chunkTokens : T
        guard inContext + 64 + maxTokens <= model.config.contextLength else {
            throw ValidationError("\(pc ? "--chunk-tokens" : "--tokens") \(inContext) leaves no room for the question and answer in the trained context \(model.config.contextLength)")
        }
        let labs = kinds.flatMap { k in rs.map { EvictionLabSettings(kind: k, ratio: $0, setting: setting, oracleChunk: oracleChunk) } }
        var config = ParallelCompConfig()
        config.maxNewTokens = maxTokens
        if pc { config.chunkTokens = chunkTokens; config.keepChunks = keepChunks } else { config.causal = true }
        let context = tok.decode(benchTokens(tok, count: T), skipSpecial: true)
        func pipeline(_ lab: EvictionLabSettings?) -> ParallelCompPipeline {
            var c = config; c.evictionLab = lab
            let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: c, format: PromptFormat.forTokenizer(tok))
            pc.memo = nil
            return pc
        }
        let question = "What is the main argument of the text above?"
        var prep = try pipeline(nil).prepare(context: context, question: question)
        if oracleChunk { prep.keepChunkIDs = [prep.chunks[prep.chunks.count / 2].id] }
        let contextTokens = prep.chunks.map(\.contextLength).reduce(0, +)
        Log.info("plan: \(labs.count) points (\(kinds.count) policies x \(rs.count) ratios) on \(contextTokens) context tokens"
                 + (pc ? " in \(prep.chunks.count) chunks (keep \(keepChunks)\(oracleChunk ? ", middle chunk forced" : ""))" : "")
                 + ", one by one, then with one prefill")
        var alone: [ParallelCompPipeline.Result] = []
        let t0 = Date()
        for (i, lab) in labs.enumerated() {
            alone.append(try pipeline(lab).run(prep))
            Log.info("one by one: \(i + 1)/\(labs.count)")
        }
        let oneByOne = Date().timeIntervalSince(t0)
        let t1 = Date()
        let together = try pipeline(nil).runLabPoints(prep, labs: labs)
        let onePrefill = Date().timeIntervalSince(t1)
        let identical = zip(alone, together).allSatisfy {
            $0.answerIDs == $1.answerIDs && $0.top20Logits.map(\.bitPattern) == $1.top20Logits.map(\.bitPattern) && $0.policyKept == $1.policyKept
                && $0.decodeTop20 == $1.decodeTop20
                && $0.keptChunkIDs == $1.keptChunkIDs && $0.storedKVPairs == $1.storedKVPairs && $0.policyBands == $1.policyBands
        }
        if json {
            try JSONOut.emit(LabBenchRow(setting: setting.rawValue, points: labs.count, contextTokens: contextTokens, chunks: prep.chunks.count,
                                         oneByOneSeconds: oneByOne,
                                         onePrefillSeconds: onePrefill, speedup: oneByOne / onePrefill, identical: identical, threads: model.threads))
        }
        else {
            print(String(format: "%@ setting, %d points on %d tokens (%d chunks): one by one %.1f s, one prefill %.1f s, speed-up %.1fx, results %@",
                         setting.rawValue, labs.count, contextTokens, prep.chunks.count, oneByOne, onePrefill, oneByOne / onePrefill, identical ? "identical" : "DIFFER"))
        }
        if !identical { throw CLIError("the one-prefill path differs from the point-by-point path") }
    }
}

/// `bench eviction-lab --json`.
struct LabBenchRow: Encodable {
    var setting: String, points: Int, contextTokens: Int, chunks: Int, oneByOneSeconds: Double, onePrefillSeconds: Double, speedup: Double, identical: Bool, threads: Int
    enum CodingKeys: String, CodingKey {
        case setting, points, contextTokens = "context_tokens", chunks, oneByOneSeconds = "one_by_one_s", onePrefillSeconds = "one_prefill_s", speedup, identical, threads
    }
}
