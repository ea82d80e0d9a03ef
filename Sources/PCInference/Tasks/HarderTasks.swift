import Foundation

/// Every task `eval` and `sweep` accept, built from a length, a depth and a seed.
public enum RetrievalTask: String, CaseIterable, Codable, Sendable {
    case passkey, niah
    /// Multi-key NIAH: four "special magic number" sentences for four cities, one asked (RULER).
    case mkNiah = "mk-niah"
    /// Multi-value NIAH: four numbers for one city, all asked (RULER).
    case mvNiah = "mv-niah"
    /// Key-value retrieval over a JSON-like object of random hex keys (InfiniteBench kv_retrieval).
    case kv
    /// Variable tracking: a chain of assignments hidden in the essays, every name asked (RULER).
    case vt
    /// Perplexity of a held-out continuation of the essays (the paper's language modelling in
    /// miniature): scored by the answer's teacher-forced NLL, never "correct".
    case ppl
    /// RULER's synthetic tasks, built as RULER builds them (`RulerTask`, RulerTasks.swift) and
    /// scored by recall-averaged string match.
    case niahSingle1 = "niah_single_1", niahSingle2 = "niah_single_2", niahSingle3 = "niah_single_3"
    case niahMultikey1 = "niah_multikey_1", niahMultikey2 = "niah_multikey_2", niahMultikey3 = "niah_multikey_3"
    case niahMultivalue = "niah_multivalue", niahMultiquery = "niah_multiquery"
    case rulerVT = "ruler_vt", rulerCWE = "ruler_cwe", rulerFWE = "ruler_fwe"

    /// The RULER task behind a case (nil for our own tasks).
    public var ruler: RulerTask? {
        if rawValue.hasPrefix("ruler_") { return RulerTask(rawValue: String(rawValue.dropFirst(6))) }
        return rawValue.hasPrefix("niah_") ? RulerTask(rawValue: rawValue) : nil   // our own vt is not RULER's
    }

    /// Default answer budget in tokens: enough for every value asked (one token for ppl, which
    /// is scored by teacher forcing, not by what it generates).
    public var answerTokens: Int {
        if let r = ruler { return r.tokensToGenerate }
        switch self {
        case .passkey, .niah, .mkNiah: return 12
        case .kv: return 16
        case .mvNiah, .vt: return 48   // four values as a list ("1. 4423\n2. ...") take about 40 tokens
        case .ppl: return 1
        default: return 128
        }
    }

    /// Whether the task reads the default essays.
    public var needsEssays: Bool { ruler.map(\.usesEssays) ?? (self != .passkey && self != .kv) }

    public func example(_ b: RetrievalTaskBuilder, essays: String, tokens: Int, depth: Double, seed: UInt64) -> RetrievalExample {
        switch self {
        case .passkey: return b.passkey(tokens: tokens, depth: depth, seed: seed)
        case .niah: return b.needle(haystack: essays, tokens: tokens, depth: depth, seed: seed)
        case .mkNiah: return b.multiKeyNeedle(haystack: essays, tokens: tokens, depth: depth, seed: seed)
        case .mvNiah: return b.multiValueNeedle(haystack: essays, tokens: tokens, depth: depth, seed: seed)
        case .kv: return b.keyValue(tokens: tokens, depth: depth, seed: seed)
        case .vt: return b.variableTracking(haystack: essays, tokens: tokens, depth: depth, seed: seed)
        case .ppl: return b.continuation(haystack: essays, tokens: tokens, seed: seed)
        default: return b.ruler(ruler!, essays: essays, tokens: tokens, depth: depth, seed: seed)
        }
    }
}

extension RetrievalTaskBuilder {
    static let cities = ["Lisbon", "Oslo", "Nairobi", "Lima", "Hanoi", "Quito", "Tunis", "Riga", "Dakar", "Perth", "Baku", "Accra"]

    /// `text` with each needle inserted at its depth (at the next sentence end), and each
    /// needle's character range in the result, in the order given.
    static func insert(_ needles: [(text: String, depth: Double)], into text: String) -> (String, [Range<Int>]) {
        var cuts: [(Int, Int)] = []   // (character offset, needle index)
        let chars = Array(text)
        for (i, n) in needles.enumerated() {
            var at = Int(Double(chars.count) * min(max(n.depth, 0), 1))
            while at < chars.count && chars[max(0, at - 1)] != "." { at += 1 }
            cuts.append((min(at, chars.count), i))
        }
        cuts.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        var out = "", ranges = [Range<Int>](repeating: 0..<0, count: needles.count), last = 0, length = 0
        for (at, i) in cuts {
            let piece = String(chars[last..<at]); out += piece; length += piece.count
            let n = " " + needles[i].text + " "
            ranges[i] = length..<(length + n.count); out += n; length += n.count
            last = at
        }
        out += String(chars[last...])
        return (out, ranges)
    }

    /// Depths of `count` needles: the asked one at `depth`, the others spread evenly (seeded).
    static func spread(_ count: Int, asked depth: Double, rng: inout SplitMix64) -> [Double] {
        (0..<count).map { $0 == 0 ? depth : Double(rng.next() % 1000) / 1000 }
    }

    public func multiKeyNeedle(haystack: String, tokens target: Int, depth: Double, seed: UInt64) -> RetrievalExample {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ 41)
        var cities = Self.cities   // four distinct cities, by a Fisher-Yates pass of our own (stable across toolchains)
        for i in 0..<4 { cities.swapAt(i, i + Int(rng.next() % UInt64(cities.count - i))) }
        let numbers = (0..<4).map { _ in String(1000 + Int(rng.next() % 9000)) }
        let depths = Self.spread(4, asked: depth, rng: &rng)
        let text = Self.prefix(of: haystack, tokens: max(64, target - 100), tokenizer: tokenizer)
        let (context, ranges) = Self.insert((0..<4).map { ("The special magic \(cities[$0]) number is \(numbers[$0]).", depths[$0]) }, into: text)
        return RetrievalExample(context: context, question: "What is the special magic \(cities[0]) number?", answer: numbers[0],
                                instruction: "Read the essays below and remember the special magic numbers they mention.",
                                answerPrefix: "The special magic \(cities[0]) number is", depth: depth, needle: ranges[0])
    }

    public func multiValueNeedle(haystack: String, tokens target: Int, depth: Double, seed: UInt64) -> RetrievalExample {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ 43)
        let city = Self.cities[Int(rng.next() % UInt64(Self.cities.count))]
        let numbers = (0..<4).map { _ in String(1000 + Int(rng.next() % 9000)) }
        let depths = Self.spread(4, asked: depth, rng: &rng)
        let text = Self.prefix(of: haystack, tokens: max(64, target - 100), tokenizer: tokenizer)
        let (context, ranges) = Self.insert((0..<4).map { ("One of the special magic \(city) numbers is \(numbers[$0]).", depths[$0]) }, into: text)
        var ex = RetrievalExample(context: context, question: "What are all the special magic \(city) numbers?", answer: numbers.joined(separator: ", "),
                                  instruction: "Read the essays below and remember every special magic number they mention.",
                                  answerPrefix: "The special magic \(city) numbers are", depth: depth, needle: ranges[0])
        ex.allOf = numbers
        return ex
    }

    public func keyValue(tokens target: Int, depth: Double, seed: UInt64) -> RetrievalExample {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ 47)
        func hex() -> String { String(format: "%08x", UInt32(truncatingIfNeeded: rng.next())) }
        let pair = tokenizer.encode("\"0123abcd\": \"4567ef89\", ", parseSpecial: false, addBOS: false).count
        let n = max(2, (target - 40) / max(1, pair))
        let asked = min(n - 1, Int(Double(n) * min(max(depth, 0), 1)))
        var context = "{", needle = 0..<0, key = "", value = ""
        for i in 0..<n {
            let (k, v) = (hex(), hex())
            let item = "\"\(k)\": \"\(v)\"" + (i < n - 1 ? ", " : "")
            if i == asked { key = k; value = v; needle = context.count..<(context.count + item.count) }
            context += item
        }
        context += "}"
        return RetrievalExample(context: context, question: "What is the value of key \"\(key)\"?", answer: value,
                                instruction: "Extract the value corresponding to the specified key in the JSON object below.",
                                answerPrefix: "The value of key \"\(key)\" is \"", depth: depth, needle: needle)
    }

    public func variableTracking(haystack: String, tokens target: Int, depth: Double, seed: UInt64) -> RetrievalExample {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ 53)
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        let names = (0..<4).map { _ in String((0..<5).map { _ in letters[Int(rng.next() % 26)] }) }
        let value = String(10000 + Int(rng.next() % 90000))
        // The chain in document order: the first assignment at `depth`, each hop later.
        let depths = (0..<4).map { min(1, depth + Double($0) * (1 - depth) / 4) }
        let lines = (0..<4).map { i in i == 0 ? "VAR \(names[0]) = \(value)." : "VAR \(names[i]) = VAR \(names[i - 1])." }
        let text = Self.prefix(of: haystack, tokens: max(64, target - 80), tokenizer: tokenizer)
        let (context, ranges) = Self.insert(Array(zip(lines, depths)).map { ($0.0, $0.1) }, into: text)
        var ex = RetrievalExample(context: context, question: "Find all variables that are assigned the value \(value).",
                                  answer: names.joined(separator: " "),
                                  instruction: "Memorize and track the chain of variable assignments hidden in the text below.",
                                  answerPrefix: "The variables assigned the value \(value) are:", depth: depth, needle: ranges[0])
        ex.allOf = names
        return ex
    }

    /// The essays from a seeded offset: `tokens` of context and the next 64 tokens held out as the
    /// answer, whose teacher-forced NLL is the measure.
    public func continuation(haystack: String, tokens target: Int, seed: UInt64) -> RetrievalExample {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ 59)
        let all = tokenizer.encode(String(repeating: haystack + "\n\n", count: 1 + (target + 64) / max(1, haystack.count / 4)),
                                   parseSpecial: false, addBOS: false)
        let start = all.count > target + 64 ? Int(rng.next() % UInt64(all.count - target - 64)) : 0
        let context = tokenizer.decode(Array(all[start..<min(all.count, start + target)]), skipSpecial: true)
        let answer = tokenizer.decode(Array(all[min(all.count, start + target)..<min(all.count, start + target + 64)]), skipSpecial: true)
        var ex = RetrievalExample(context: context, question: "Continue the text.", answer: answer,
                                  instruction: "Read the text below.", answerPrefix: "", depth: 1,
                                  needle: max(0, context.count - 1)..<context.count)
        ex.scoredOnly = true
        return ex
    }
}
