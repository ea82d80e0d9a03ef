import Foundation

/// RULER's synthetic tasks (Hsieh et al. 2024; NVIDIA/RULER scripts/data/synthetic/niah.py,
/// variable_tracking.py, common_words_extraction.py, freq_words_extraction.py and the task table
/// synthetic.yaml), rebuilt from their description: the same templates, needle sentence, value
/// formats (7-digit numbers, "adjective-noun" words, version-4 UUIDs), haystacks (Paul Graham's
/// essays, the "grass is green" noise, or other needles) and scoring (`string_match_all`:
/// the fraction of the expected strings found in the output, case-insensitive).
///
/// Where we differ from RULER, on purpose: every example draws its own haystack (a seeded
/// offset into the essays) and the needle that is asked sits at a depth the caller gives (so a
/// grid of depths covers the context evenly; RULER samples every needle's depth from its
/// 40-point grid); the haystack is sized with the model's own tokenizer to the target length
/// less the answer budget; and our word lists stand in for the `wonderwords` lists
/// (`RulerWords`).
public enum RulerTask: String, CaseIterable, Codable, Sendable {
    case niahSingle1 = "niah_single_1", niahSingle2 = "niah_single_2", niahSingle3 = "niah_single_3"
    case niahMultikey1 = "niah_multikey_1", niahMultikey2 = "niah_multikey_2", niahMultikey3 = "niah_multikey_3"
    case niahMultivalue = "niah_multivalue", niahMultiquery = "niah_multiquery"
    case vt, cwe, fwe

    public enum Haystack: String, Sendable { case noise, essay, needles }
    public enum ValueKind: String, Sendable {
        case numbers, words, uuids
        var singular: String { String(rawValue.dropLast()) }
    }

    /// A NIAH task's row of RULER's synthetic.yaml.
    public struct NIAH: Sendable {
        public var haystack: Haystack, key: ValueKind, value: ValueKind, keys: Int, values: Int, queries: Int
    }

    public var niah: NIAH? {
        switch self {
        case .niahSingle1: return NIAH(haystack: .noise, key: .words, value: .numbers, keys: 1, values: 1, queries: 1)
        case .niahSingle2: return NIAH(haystack: .essay, key: .words, value: .numbers, keys: 1, values: 1, queries: 1)
        case .niahSingle3: return NIAH(haystack: .essay, key: .words, value: .uuids, keys: 1, values: 1, queries: 1)
        case .niahMultikey1: return NIAH(haystack: .essay, key: .words, value: .numbers, keys: 4, values: 1, queries: 1)
        case .niahMultikey2: return NIAH(haystack: .needles, key: .words, value: .numbers, keys: 1, values: 1, queries: 1)
        case .niahMultikey3: return NIAH(haystack: .needles, key: .uuids, value: .uuids, keys: 1, values: 1, queries: 1)
        case .niahMultivalue: return NIAH(haystack: .essay, key: .words, value: .numbers, keys: 1, values: 4, queries: 1)
        case .niahMultiquery: return NIAH(haystack: .essay, key: .words, value: .numbers, keys: 4, values: 1, queries: 4)
        case .vt, .cwe, .fwe: return nil
        }
    }

    /// RULER's tokens_to_generate (scripts/data/synthetic/constants.py).
    public var tokensToGenerate: Int {
        switch self {
        case .vt: return 30
        case .cwe: return 120
        case .fwe: return 50
        default: return 128
        }
    }

    public var usesEssays: Bool { niah?.haystack == .essay }
    /// Whether a needle sits at the example's depth (not CWE and FWE, which have no needle).
    public var hasNeedle: Bool { self != .cwe && self != .fwe }

    /// RULER's 40 needle depths (np.linspace(0, 100, 40) rounded), as fractions.
    public static let depthGrid: [Double] = (0..<40).map { (Double($0) * 100 / 39).rounded() / 100 }

    /// The depth of example `i` of a run: RULER's grid visited in a fixed stride (17 is prime to
    /// 40), so any 40 consecutive examples cover every depth once and the first few spread over
    /// the context. Within a chunk the position follows from the depth.
    public static func depth(example i: Int) -> Double { depthGrid[(i * 17) % depthGrid.count] }
}

/// RULER's metrics (scripts/eval/synthetic/constants.py). `all` (string_match_all, every
/// synthetic task): the fraction of the references found in the output; `part`
/// (string_match_part, RULER's QA tasks): 1 when any reference is found. Case-insensitive.
public enum RulerMetric: String, Codable, Sendable {
    case all, part

    public func score(_ output: String, references: [String]) -> Double {
        guard !references.isEmpty else { return 0 }
        let o = output.lowercased()
        let hits = references.map { o.contains($0.lowercased()) ? 1.0 : 0.0 }
        switch self {
        case .all: return hits.reduce(0, +) / Double(hits.count)
        case .part: return hits.max() ?? 0
        }
    }
}

extension RetrievalTaskBuilder {
    static let rulerNoise = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."

    /// One example of a RULER task with about `tokens` prompt tokens plus the answer budget.
    public func ruler(_ task: RulerTask, essays: String, tokens target: Int, depth: Double, seed: UInt64) -> RetrievalExample {
        var ex: RetrievalExample
        switch task {
        case .vt: ex = rulerVT(tokens: target, depth: depth, seed: seed)
        case .cwe: ex = rulerCWE(tokens: target, seed: seed)
        case .fwe: ex = rulerFWE(tokens: target, seed: seed)
        default: ex = rulerNIAH(task.niah!, essays: essays, tokens: target, depth: depth, seed: seed)
        }
        ex.metric = .all
        ex.template = .ruler
        return ex
    }

    /// Tokens of the whole prompt as RULER counts them (instruction, context, question, prefix).
    func rulerLength(_ ex: RetrievalExample) -> Int {
        tokenizer.encode(ex.instruction + ex.context + "\n" + ex.question + ex.answerPrefix, parseSpecial: false, addBOS: false).count
    }

    /// The largest haystack size (up to `maxUnits`) whose example fits `budget` tokens: a probe
    /// gives tokens per unit, then bisection between a size that fits and one that does not,
    /// to within 1 % (RULER grows its haystack by increments until it no longer fits).
    func fitted(budget: Int, probe: Int = 8, maxUnits: Int = 1 << 30, _ make: (Int) -> RetrievalExample) -> RetrievalExample {
        let small = rulerLength(make(probe)), smaller = rulerLength(make(1))
        let perUnit = max(0.5, Double(small - smaller) / Double(max(1, probe - 1)))
        var n = min(maxUnits, max(1, probe + Int(Double(budget - small) / perUnit)))
        var lo = 0, hi: Int? = nil, best: RetrievalExample? = nil
        for _ in 0..<20 {
            let ex = make(n), len = rulerLength(ex)
            if len <= budget {
                lo = n; best = ex
                if n >= maxUnits { break }
                if let h = hi { if h - lo <= max(1, lo / 100) { break }; n = (lo + h) / 2 } else { n = min(maxUnits, n + max(1, n / 20)) }
            } else {
                hi = n
                if n <= 1 { break }
                n = lo > 0 ? (lo + n) / 2 : max(1, min(n - 1, Int(Double(n) * Double(budget) / Double(len) * 0.98)))
                if let h = hi, h - lo <= 1, best != nil { break }
            }
        }
        return best ?? make(1)
    }

    static func uniform(_ rng: inout SplitMix64, _ n: Int) -> Int { Int(rng.next() % UInt64(max(1, n))) }

    static func shuffle<T>(_ a: inout [T], _ rng: inout SplitMix64) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, uniform(&rng, i + 1)) }
    }

    /// `k` distinct draws from `0 ..< n`.
    static func sample(_ n: Int, _ k: Int, _ rng: inout SplitMix64) -> [Int] {
        var pool = Array(0..<n), out: [Int] = []
        for i in 0..<min(k, n) { let j = i + uniform(&rng, n - i); pool.swapAt(i, j); out.append(pool[i]) }
        return out
    }

    static func rulerValue(_ kind: RulerTask.ValueKind, _ rng: inout SplitMix64) -> String {
        switch kind {
        case .numbers: return String(1_000_000 + uniform(&rng, 9_000_000))
        case .words: return RulerWords.adjectives[uniform(&rng, RulerWords.adjectives.count)] + "-" + RulerWords.nouns[uniform(&rng, RulerWords.nouns.count)]
        case .uuids:
            // 128 random bits with the version-4 and RFC 4122 variant bits set, as uuid.UUID(int:, version=4).
            var hi = rng.next(), lo = rng.next()
            hi = (hi & ~0xF000) | 0x4000
            lo = (lo & ~(UInt64(0xC) << 60)) | (UInt64(0x8) << 60)
            let h = String(format: "%016llx%016llx", hi, lo)
            let c = Array(h)
            return [c[0..<8], c[8..<12], c[12..<16], c[16..<20], c[20..<32]].map { String($0) }.joined(separator: "-")
        }
    }

    /// The essays as whitespace-separated words (RULER: re.sub(r'\s+', ' ', essay).split(' ')).
    static func essayWords(_ essays: String) -> [Substring] { essays.split(whereSeparator: { $0.isWhitespace }) }

    /// Sentences of `text`: split after ". ", "? " or "! " (a plain stand-in for nltk's
    /// sent_tokenize, which RULER uses to insert needles between sentences).
    static func sentences(_ text: String) -> [String] {
        var out: [String] = [], cur = ""
        let chars = Array(text)
        for (i, ch) in chars.enumerated() {
            cur.append(ch)
            if ".?!".contains(ch), i + 1 < chars.count, chars[i + 1] == " " {
                out.append(cur.trimmingCharacters(in: .whitespaces)); cur = ""
            }
        }
        let last = cur.trimmingCharacters(in: .whitespaces)
        if !last.isEmpty { out.append(last) }
        return out
    }

    func rulerNIAH(_ cfg: RulerTask.NIAH, essays: String, tokens target: Int, depth: Double, seed: UInt64) -> RetrievalExample {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ 61)
        let nKeys = max(cfg.keys, cfg.queries)
        var keys: [String] = []
        while keys.count < nKeys { let k = Self.rulerValue(cfg.key, &rng); if !keys.contains(k) { keys.append(k) } }
        let values = keys.map { _ in (0..<cfg.values).map { _ in Self.rulerValue(cfg.value, &rng) } }
        let asked = Self.sample(nKeys, cfg.queries, &rng)
        let plural = cfg.value.rawValue
        func needle(_ key: String, _ value: String) -> String { "One of the special magic \(plural) for \(key) is: \(value)." }
        // Needles in asked-first order: the first value of the first asked key sits at `depth`.
        var order: [(Int, Int)] = asked.map { ($0, 0) }
        for k in 0..<nKeys { for v in 0..<cfg.values where !order.contains(where: { $0 == (k, v) }) { order.append((k, v)) } }
        order = [order[0]] + order.dropFirst().sorted { ($0.0, $0.1) < ($1.0, $1.1) }
        let texts = order.map { needle(keys[$0.0], values[$0.0][$0.1]) }
        // The other needles' depths from RULER's grid (distinct, the asked depth excluded).
        let others = Self.sample(RulerTask.depthGrid.count, texts.count - 1, &rng).map { RulerTask.depthGrid[$0] }
        let depths = [min(max(depth, 0), 1)] + others
        let hayStart = Self.uniform(&rng, 1 << 30), fillerSeed = rng.next()

        let query = asked.count > 1 ? asked.dropLast().map { keys[$0] }.joined(separator: ", ") + ", and " + keys[asked.last!] : keys[asked[0]]
        var instruction = "Some special magic \(plural) are hidden within the following text. Make sure to memorize it. I will quiz you about the \(plural) afterwards.\n"
        var question = "What are all the special magic \(plural) for \(query) mentioned in the provided text?"
        var prefix = " The special magic \(plural) for \(query) mentioned in the provided text are"
        if cfg.queries * cfg.values == 1 {
            // RULER's singular form of the template.
            func singular(_ s: String) -> String {
                s.replacingOccurrences(of: "Some", with: "A").replacingOccurrences(of: "are all", with: "is")
                    .replacingOccurrences(of: "are", with: "is").replacingOccurrences(of: "answers", with: "answer")
                    .replacingOccurrences(of: "magic \(plural)", with: "magic \(cfg.value.singular)")
                    .replacingOccurrences(of: "the \(plural) afterwards", with: "the \(cfg.value.singular) afterwards")
            }
            instruction = singular(instruction); question = singular(question); prefix = singular(prefix)
        }
        let answers = asked.flatMap { values[$0] }
        // Which needle carries each answer, in the answers' order.
        let answerNeedles = asked.flatMap { k in (0..<cfg.values).map { v in order.firstIndex { $0 == (k, v) }! } }
        let words = cfg.haystack == .essay ? Self.essayWords(essays) : []

        func make(_ n: Int) -> RetrievalExample {
            var pieces: [String]
            var sep = "\n"
            switch cfg.haystack {
            case .essay:
                sep = " "
                let start = words.isEmpty ? 0 : hayStart % words.count
                let text = (0..<n).map { words.isEmpty ? "" : String(words[(start + $0) % words.count]) }.joined(separator: " ")
                pieces = Self.sentences(text)
            case .noise:
                pieces = Array(repeating: Self.rulerNoise, count: n)
            case .needles:
                var r = SplitMix64(seed: fillerSeed)
                pieces = (0..<n).map { _ in needle(Self.rulerValue(cfg.key, &r), Self.rulerValue(cfg.value, &r)) }
            }
            // Insert at each depth's sentence index; ties keep the needles' order.
            let slots = depths.map { Int(Double(pieces.count) * $0) }
            let byPosition = texts.indices.sorted { (slots[$0], $0) < (slots[$1], $1) }
            var out: [String] = [], ranges = [Range<Int>](repeating: 0..<0, count: texts.count), length = 0, next = 0
            func add(_ s: String) { if !out.isEmpty { length += sep.count }; out.append(s); length += s.count }
            for i in byPosition {
                while next < slots[i] && next < pieces.count { add(pieces[next]); next += 1 }
                if !out.isEmpty { length += sep.count }
                ranges[i] = length..<(length + texts[i].count); out.append(texts[i]); length += texts[i].count
            }
            while next < pieces.count { add(pieces[next]); next += 1 }
            var ex = RetrievalExample(context: out.joined(separator: sep), question: question, answer: answers.joined(separator: ", "),
                                      instruction: instruction, answerPrefix: prefix, depth: depth, needle: ranges[0])
            ex.allOf = answers
            ex.evidence = answerNeedles.map { ranges[$0] }
            return ex
        }
        let budget = target - RulerTask.niahSingle1.tokensToGenerate
        return fitted(budget: budget, probe: cfg.haystack == .essay ? 200 : 8, make)
    }

    /// RULER's variable tracking: one chain of five assignments (four hops) in the noise
    /// haystack, after one demonstration of the task (three-letter names, about 500 tokens).
    func rulerVT(tokens target: Int, depth: Double, seed: UInt64) -> RetrievalExample {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ 67)
        func chain(_ letters: Int) -> (names: [String], value: String) {
            var names: [String] = []
            while names.count < 5 {
                let n = String((0..<letters).map { _ in Character(UnicodeScalar(65 + UInt8(Self.uniform(&rng, 26)))) })
                if !names.contains(n) { names.append(n) }
            }
            return (names, String(10000 + Self.uniform(&rng, 89999)))
        }
        let noise = Self.rulerNoise + "\n"
        func instruction() -> String { "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n" }
        func question(_ v: String) -> String { "Question: Find all variables that are assigned the value \(v) in the text above." }
        func prefix(_ v: String) -> String { " Answer: According to the chain(s) of variable assignment in the text above, 5 variables are assigned the value \(v), they are: " }
        /// The context with the chain's lines placed among `n` noise lines, the first at `at`
        /// (a fraction), the others later; the lines' character ranges.
        func context(_ n: Int, _ c: (names: [String], value: String), at: Double, positions r: inout SplitMix64) -> (String, [Range<Int>]) {
            let lines = [ "VAR \(c.names[0]) = \(c.value)" ] + (1..<5).map { "VAR \(c.names[$0]) = VAR \(c.names[$0 - 1]) " }
            let first = min(n, Int(Double(n) * min(max(at, 0), 1)))
            let later = (1..<5).map { _ in first + Self.uniform(&r, n - first + 1) }.sorted()
            let slots = [first] + later
            var parts: [String] = [], idx = 0
            for (j, line) in lines.enumerated() {
                while idx < slots[j] { parts.append(noise); idx += 1 }
                parts.append(line)
            }
            while idx < n { parts.append(noise); idx += 1 }
            var text = "", ranges: [Range<Int>] = [], li = 0
            for (i, p) in parts.enumerated() {
                if i > 0 { text += " " }
                if li < lines.count && p == lines[li] { ranges.append(text.count..<(text.count + p.count)); li += 1 }
                text += p
            }
            // RULER joins with spaces and then closes the gap after each noise line's newline.
            let fixed = text.replacingOccurrences(of: ". \n", with: ".\n")
            guard fixed != text else { return (text, ranges) }
            // Recompute the ranges in the fixed text (the chain lines are unique strings).
            return (fixed, lines.map { l in
                let r = fixed.range(of: l)!
                let a = fixed.distance(from: fixed.startIndex, to: r.lowerBound)
                return a..<(a + l.count)
            })
        }
        // The demonstration: sized to RULER's 500 tokens less the answer budget.
        let demoChain = chain(3)
        var demoRNG = SplitMix64(seed: rng.next())
        var demoNoise = 5
        var demo = ""
        while true {
            var r = demoRNG
            let (ctx, _) = context(demoNoise + 5, demoChain, at: Double(Self.uniform(&r, 100)) / 100, positions: &r)
            let text = instruction() + ctx + "\n" + question(demoChain.value) + prefix(demoChain.value) + demoChain.names.joined(separator: " ") + "\n\n"
            if tokenizer.encode(text, parseSpecial: false, addBOS: false).count + RulerTask.vt.tokensToGenerate > 500 { break }
            demo = text; demoNoise += 5
        }
        _ = demoRNG.next()
        let main = chain(5)
        let posSeed = rng.next()
        let ex = fitted(budget: target - RulerTask.vt.tokensToGenerate, probe: 8) { n in
            var r = SplitMix64(seed: posSeed)
            let (ctx, ranges) = context(n, main, at: depth, positions: &r)
            var ex = RetrievalExample(context: ctx, question: question(main.value), answer: main.names.joined(separator: " "),
                                      instruction: demo + instruction(), answerPrefix: prefix(main.value), depth: depth, needle: ranges[0])
            ex.allOf = main.names
            ex.evidence = ranges
            return ex
        }
        return ex
    }

    /// RULER's common words extraction: ten words repeated 30 times among words repeated 3
    /// times (6 and 1 below 4K), numbered, after one smaller demonstration.
    func rulerCWE(tokens target: Int, seed: UInt64) -> RetrievalExample {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ 71)
        let long = target >= 4096
        let instruction = "Below is a numbered list of words. In these words, some appear more often than others. Memorize the ones that appear most often.\n"
        let question = "Question: What are the 10 most common words in the above list?"
        let prefix = " Answer: The top 10 words that appear most often in the list are:"
        func list(_ count: Int, common: Int, uncommon: Int, _ r: inout SplitMix64) -> (String, [String]) {
            let picked = Self.sample(RulerWords.all.count, min(count, RulerWords.all.count), &r).map { RulerWords.all[$0] }
            let top = Array(picked.prefix(10)), rest = Array(picked.dropFirst(10))
            var words = Array(repeating: top, count: common).flatMap { $0 } + Array(repeating: rest, count: uncommon).flatMap { $0 }
            Self.shuffle(&words, &r)
            return (words.enumerated().map { "\($0.offset + 1). \($0.element)" }.joined(separator: " "), top)
        }
        var dr = SplitMix64(seed: rng.next())
        let (demoList, demoTop) = long ? list(40, common: 10, uncommon: 3, &dr) : list(20, common: 3, uncommon: 1, &dr)
        let demo = instruction + demoList + "\n" + question + prefix + " " + demoTop.enumerated().map { "\($0.offset + 1). \($0.element)" }.joined(separator: " ") + "\n"
        let listSeed = rng.next()
        return fitted(budget: target - RulerTask.cwe.tokensToGenerate, probe: 20, maxUnits: RulerWords.all.count) { n in
            var r = SplitMix64(seed: listSeed)
            let (ctx, top) = long ? list(n, common: 30, uncommon: 3, &r) : list(n, common: 6, uncommon: 1, &r)
            var ex = RetrievalExample(context: ctx, question: question, answer: top.joined(separator: ", "),
                                      instruction: demo + instruction, answerPrefix: prefix, depth: 0, needle: 0..<0)
            ex.allOf = top
            return ex
        }
    }

    /// RULER's frequent words extraction: coded six-letter words drawn with Zipf weights
    /// (alpha 2, vocabulary of target/50 words), the most frequent one replaced by "...";
    /// the answer is the next three.
    func rulerFWE(tokens target: Int, seed: UInt64) -> RetrievalExample {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ 73)
        let vocabSize = max(8, target / 50)
        var vocab = Set<String>()
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        while vocab.count < vocabSize { vocab.insert(String((0..<6).map { _ in letters[Self.uniform(&rng, 26)] })) }
        var words = vocab.sorted()
        Self.shuffle(&words, &rng)
        words[0] = "..."
        let zeta2 = Double.pi * Double.pi / 6
        let shuffleSeed = rng.next()
        let instruction = "Read the following coded text and track the frequency of each coded word. Find the three most frequently appeared coded words. "
        let question = "Question: Do not provide any explanation. Please ignore the dots '....'. What are the three most frequently appeared words in the above coded text?"
        let prefix = " Answer: According to the coded text above, the three most frequently appeared words are:"
        let answer = Array(words[1...3])
        return fitted(budget: target - RulerTask.fwe.tokensToGenerate, probe: 200) { n in
            var text: [String] = []
            for (k, w) in words.enumerated() { text += Array(repeating: w, count: Int(Double(n) * pow(Double(k + 1), -2) / zeta2)) }
            var r = SplitMix64(seed: shuffleSeed)
            Self.shuffle(&text, &r)
            var ex = RetrievalExample(context: text.joined(separator: " "), question: question, answer: answer.joined(separator: ", "),
                                      instruction: instruction, answerPrefix: prefix, depth: 0, needle: 0..<0)
            ex.allOf = answer
            return ex
        }
    }
}
