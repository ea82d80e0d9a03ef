import ArgumentParser
import Foundation
import PCInference

/// Decode throughput: tokens/s of one-token forward passes over a KV cache filled by a prompt.
struct BenchDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode throughput (tokens/s) after a prompt, per decode path (float, int8, sgemm).")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Prompt length, prefilled, not timed (default 512).", transform: ContextLength.argument) var prompt = ContextLength(argument: "512")!
    @Option(help: "Tokens generated (greedy; stop tokens are not honoured, so every run generates this many).") var tokens = 128
    @Option(help: "Decode path: float (the default path), int8, sgemm, or all (side by side).") var path = "float"
    @Option(help: "Repetitions (best is reported).") var repeats = 3
    @Flag(help: "One JSON object per path on stdout.") var json = false

    func validate() throws {
        guard path == "all" || DecodePath(rawValue: path) != nil else { throw ValidationError("--path must be float, int8, sgemm or all") }
        guard tokens >= 1 else { throw ValidationError("--tokens must be at least 1") }
    }

    func run() throws {
        let (model, tok, _) = try modelOptions.load()
        let ids = benchTokens(tok, count: prompt.tokens)
        let paths: [DecodePath] = path == "all" ? DecodePath.allCases : [DecodePath(rawValue: path)!]
        if !json { print("decode kernel \(QuantMatVec.kernelName), \(model.threads) threads; \(prompt.tokens)-token prompt, \(tokens) tokens") }
        for p in paths {
            model.decodePath = p
            var generated: [Int] = []
            var secs = Double.infinity, cpu = Double.infinity
            for _ in 0..<max(1, repeats) {
                let cache = model.makeCache()
                let logits = try model.forward(tokens: ids, positions: Array(0..<ids.count), cache: cache, logitRows: [ids.count - 1])
                var sampler = Sampler(SamplingSettings())
                // Only the decode loop is timed, not the prompt's prefill. Every token, the last
                // included, runs through the model (`tokens` forward passes).
                let t0 = DispatchTime.now().uptimeNanoseconds, c0 = ProcessCPU.seconds
                generated = try DecodeLoop.run(logits: logits, position: ids.count, maxTokens: tokens + 1, sampler: &sampler, stopTokens: [],
                                               onToken: { _ in true }) { t, pos in
                    try model.forward(tokens: [t], positions: [pos], cache: cache, logitRows: [0], stageName: "decode")
                }
                generated.removeLast()
                let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                if s < secs { secs = s; cpu = ProcessCPU.seconds - c0 }
            }
            if json {
                try JSONOut.emit(DecodeBenchRow(path: p.rawValue, kernel: QuantMatVec.kernelName, promptTokens: prompt.tokens, tokens: tokens,
                                                seconds: secs, cpuSeconds: cpu, tokensPerSecond: Double(tokens) / secs, threads: model.threads,
                                                firstTokens: Array(generated.prefix(16))))
            }
            else { print("\(p.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0))" + String(format: " %7.3f s  %7.1f tok/s  (%.3f s CPU)   first tokens ", secs, Double(tokens) / secs, cpu) + "\(generated.prefix(8))") }
        }
    }
}

/// CPU time of this process (all threads), to tell own work from waiting on a busy machine.
enum ProcessCPU {
    static var seconds: Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// `bench decode --json`: one line per decode path.
struct DecodeBenchRow: Encodable {
    var path: String, kernel: String, promptTokens: Int, tokens: Int, seconds: Double, cpuSeconds: Double, tokensPerSecond: Double
    var threads: Int, firstTokens: [Int]
    enum CodingKeys: String, CodingKey {
        case path, kernel, promptTokens = "prompt_tokens", tokens, seconds, cpuSeconds = "cpu_seconds", tokensPerSecond = "tokens_per_second"
        case threads, firstTokens = "first_tokens"
    }
}
