import ArgumentParser
import Foundation
import PCInference
import ProbeAnalysis

/// `bench eviction-lab`: the kvpress setting's (policy, ratio) grid on one context, run point by
/// point (a prefill each) and with one prefill serving every point, timed side by side, and
/// whether the two give identical results.
struct BenchEvictionLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eviction-lab",
        abstract: "Eviction lab, kvpress setting: every (policy, ratio) point run one by one against one prefill for all, timed.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Context length (inside the trained context).", transform: ContextLength.argument) var tokens = ContextLength(argument: "4096")!
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
        let (model, tok, _) = try modelOptions.load()
        let kinds = try list.fitted(to: model.config)
        let T = tokens.tokens
        guard T + 64 + maxTokens <= model.config.contextLength else {
            throw ValidationError("--tokens \(T) leaves no room for the question and answer in the trained context \(model.config.contextLength)")
        }
        let labs = kinds.flatMap { k in rs.map { EvictionLabSettings(kind: k, ratio: $0, setting: .kvpress) } }
        var config = ParallelCompConfig()
        config.causal = true; config.maxNewTokens = maxTokens
        let context = tok.decode(benchTokens(tok, count: T), skipSpecial: true)
        func pipeline(_ lab: EvictionLabSettings?) -> ParallelCompPipeline {
            var c = config; c.evictionLab = lab
            let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: c, format: PromptFormat.forTokenizer(tok))
            pc.memo = nil
            return pc
        }
        let question = "What is the main argument of the text above?"
        let prep = try pipeline(nil).prepare(context: context, question: question)
        Log.info("plan: \(labs.count) points (\(kinds.count) policies x \(rs.count) ratios) on \(prep.chunks[0].contextLength) context tokens, one by one, then with one prefill")
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
        }
        if json {
            try JSONOut.emit(LabBenchRow(points: labs.count, contextTokens: prep.chunks[0].contextLength, oneByOneSeconds: oneByOne,
                                         onePrefillSeconds: onePrefill, speedup: oneByOne / onePrefill, identical: identical, threads: model.threads))
        }
        else {
            print(String(format: "%d points on %d tokens: one by one %.1f s, one prefill %.1f s, speed-up %.1fx, results %@",
                         labs.count, prep.chunks[0].contextLength, oneByOne, onePrefill, oneByOne / onePrefill, identical ? "identical" : "DIFFER"))
        }
        if !identical { throw CLIError("the one-prefill path differs from the point-by-point path") }
    }
}

/// `bench eviction-lab --json`.
struct LabBenchRow: Encodable {
    var points: Int, contextTokens: Int, oneByOneSeconds: Double, onePrefillSeconds: Double, speedup: Double, identical: Bool, threads: Int
    enum CodingKeys: String, CodingKey {
        case points, contextTokens = "context_tokens", oneByOneSeconds = "one_by_one_s", onePrefillSeconds = "one_prefill_s", speedup, identical, threads
    }
}
