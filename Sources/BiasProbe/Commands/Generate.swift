import ArgumentParser
import Foundation
import PCInference
import ProbeAnalysis

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Continue a prompt (plain causal attention).")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "The prompt text.") var prompt: String
    @Flag(help: "Wrap the prompt in the model's chat template as a user message.") var chat = false
    @Option(help: "Most tokens to generate.") var maxTokens = 128
    @Option(help: "Sampling temperature (0 = greedy).") var temperature: Float = 0
    @Option(help: "Nucleus sampling mass.") var topP: Float = 1
    @Option(help: "Seed of temperature / top-p sampling.") var samplingSeed: UInt64 = 0
    @Flag(help: "Print JSON on stdout instead of streaming text.") var json = false

    func validate() throws {
        if maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
        if temperature < 0 { throw ValidationError("--temperature must not be negative") }
        if !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1]") }
    }

    func run() throws {
        let (model, tok, _) = try modelOptions.load()
        var text = prompt
        if chat {
            guard let rendered = tok.renderChat([.user(prompt)], addGenerationPrompt: true) else {
                throw CLIError("this model has no chat template biasprobe knows (ChatML or Llama 3)")
            }
            text = rendered
        }
        let ids = tok.encode(text, parseSpecial: chat)
        guard ids.count < model.config.contextLength * 4 else { throw CLIError("prompt of \(ids.count) tokens is too long") }
        var stream = StreamingDecoder(tokenizer: tok, skipSpecial: true)
        let t0 = Date()
        let out = try Generator(model: model).generate(
            prompt: ids, maxTokens: maxTokens,
            sampling: SamplingSettings(temperature: temperature, topP: topP, seed: samplingSeed),
            stopTokens: tok.stopTokenIDs) { id in
                if !json { FileHandle.standardOutput.write(stream.append(id).data(using: .utf8)!) }
                return !Signals.isInterrupted
            }
        let secs = Date().timeIntervalSince(t0)
        if json {
            struct Generated: Encodable {
                var promptIDs: [Int], ids: [Int], text: String, seconds: Double
                enum CodingKeys: String, CodingKey { case promptIDs = "prompt_ids", ids, text, seconds }
            }
            try JSONOut.emit(Generated(promptIDs: ids, ids: out, text: tok.decode(out.filter { !tok.stopTokenIDs.contains($0) }, skipSpecial: true),
                                       seconds: secs))
        } else {
            print(stream.finish())
            Log.info(String(format: "%d tokens in %.2f s", out.count, secs))
        }
    }
}

struct Ppl: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Perplexity of a text file (windows of the trained context, stride half a window).")

    @OptionGroup var modelOptions: ModelOptions
    @Argument(help: "Text file to score.") var file: String
    @Option(help: "Window in tokens (default: the trained context).") var window: Int?
    @Flag(help: "Print JSON on stdout.") var json = false

    func run() throws {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw CLIError("cannot read \(file) as UTF-8 text") }
        let (model, tok, _) = try modelOptions.load()
        let ids = tok.encode(text, parseSpecial: false, addBOS: nil)
        let t0 = Date()
        let bar = ProgressBar("ppl", total: max(1, ids.count - 1), quiet: json)
        let nll = try Perplexity.meanNLL(model: model, tokens: ids, window: window) { done, _ in bar.update(done, tokens: done) }
        bar.finish()
        let secs = Date().timeIntervalSince(t0)
        if json {
            struct Scored: Encodable {
                var file: String, tokens: Int, meanNLL: Double, perplexity: Double, seconds: Double
                enum CodingKeys: String, CodingKey { case file, tokens, meanNLL = "mean_nll", perplexity, seconds }
            }
            try JSONOut.emit(Scored(file: file, tokens: ids.count, meanNLL: nll, perplexity: exp(nll), seconds: secs))
        } else {
            print(String(format: "%@: %d tokens, mean NLL %.6f nats, perplexity %.4f (%.1f s)", file, ids.count, nll, exp(nll), secs))
        }
    }
}

struct Logits: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Top next-token logits at the last position of a prompt.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "The prompt text (control tokens such as <|im_start|> are recognised).") var prompt: String
    @Option(help: "How many top tokens to show.") var top = 10
    @Flag(help: "Print JSON on stdout.") var json = false

    func run() throws {
        guard top >= 1 else { throw ValidationError("--top must be at least 1") }
        let (model, tok, _) = try modelOptions.load()
        let ids = tok.encode(prompt, parseSpecial: true)
        guard !ids.isEmpty else { throw CLIError("the prompt is empty") }
        let logits = try model.forward(tokens: ids, positions: Array(0..<ids.count), cache: model.makeCache(), logitRows: [ids.count - 1])
        guard logits.allSatisfy(\.isFinite) else {
            throw CLIError("\(modelOptions.modelPath): the model's logits are not finite (NaN or infinity): its weights are damaged or not what the file says")
        }
        let order = logits.indices.sorted { logits[$0] > logits[$1] }.prefix(top)
        let m = Double(logits.max()!)
        let lse = m + log(logits.reduce(0.0) { $0 + exp(Double($1) - m) })
        if json {
            struct Top: Encodable {
                var ids: [Int], topIDs: [Int], topLogits: [Double], topPieces: [String], logsumexp: Double
                enum CodingKeys: String, CodingKey { case ids, topIDs = "top_ids", topLogits = "top_logits", topPieces = "top_pieces", logsumexp }
            }
            try JSONOut.emit(Top(ids: ids, topIDs: Array(order), topLogits: order.map { Double(logits[$0]) },
                                 topPieces: order.map { tok.decode([$0]) }, logsumexp: lse))
        } else {
            for i in order { print(String(format: "%7d  %10.4f  p=%.4f  ", i, logits[i], exp(Double(logits[i]) - lse)) + tok.decode([i]).debugDescription) }
        }
    }
}
