import XCTest
import PCInference

/// RULER's tasks: the task text of small seeded examples pinned, every expected value planted,
/// the length fitted with the model's tokenizer, and RULER's scorers on planted answers.
final class RulerTasksTests: XCTestCase {
    func testScorersGivePartialCredit() throws {
        let refs = ["1234567", "7654321", "Alpha-Bee", "0000001"]
        XCTAssertEqual(RulerMetric.all.score("1234567 and alpha-bee", references: refs), 0.5)       // recall, case-insensitive
        XCTAssertEqual(RulerMetric.all.score("nothing", references: refs), 0)
        XCTAssertEqual(RulerMetric.all.score(refs.reversed().joined(separator: " "), references: refs), 1)
        XCTAssertEqual(RulerMetric.part.score("7654321", references: refs), 1)                       // any one
        XCTAssertEqual(RulerMetric.part.score("none", references: refs), 0)
        let tok = try Tokenizer(gguf: GGUFFile(path: Fixtures.modelPath()))
        var ex = RetrievalTaskBuilder(tokenizer: tok).ruler(.niahMultivalue, essays: "A sentence. Another one.", tokens: 400, depth: 0.5, seed: 1)
        XCTAssertEqual(ex.metric, .all)
        ex.allOf = Array(refs.prefix(3))
        XCTAssertEqual(ex.score("1234567 7654321"), 2.0 / 3, accuracy: 1e-12)
        XCTAssertFalse(ex.isCorrect("1234567 7654321"))
        XCTAssertTrue(ex.isCorrect("ALPHA-BEE, 7654321, 1234567"))
    }

    func testSmallSeededExamplesArePinned() throws {
        let tok = try Tokenizer(gguf: GGUFFile(path: Fixtures.modelPath()))
        let b = RetrievalTaskBuilder(tokenizer: tok)
        let hay = (0..<400).map { "Sentence \($0) is about gardens and startups." }.joined(separator: " ")
        // niah_single_1: RULER's noise haystack, singular template, a 7-digit value for an adjective-noun key.
        let s1 = b.ruler(.niahSingle1, essays: hay, tokens: 1000, depth: 0.5, seed: 3)
        XCTAssertEqual(s1.instruction, "A special magic number is hidden within the following text. Make sure to memorize it. I will quiz you about the number afterwards.\n")
        XCTAssertTrue(s1.question.hasPrefix("What is the special magic number for "), s1.question)
        XCTAssertTrue(s1.question.hasSuffix(" mentioned in the provided text?"))
        XCTAssertTrue(s1.answerPrefix.hasPrefix(" The special magic number for ") && s1.answerPrefix.hasSuffix(" mentioned in the provided text is"))
        let value = try XCTUnwrap(s1.allOf?.first)
        XCTAssertEqual(value.count, 7); XCTAssertNotNil(Int(value))
        let needle = String(Array(s1.context)[s1.needle])
        XCTAssertTrue(needle.hasPrefix("One of the special magic numbers for ") && needle.hasSuffix(" is: \(value)."), needle)
        XCTAssertTrue(s1.context.hasPrefix("The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.\n"))
        // The needle at the given depth: half of the noise lines before it.
        let before = s1.context.prefix(s1.needle.lowerBound).components(separatedBy: "There and back again.").count - 1
        let total = s1.context.components(separatedBy: "There and back again.").count - 1
        XCTAssertEqual(Double(before) / Double(total), 0.5, accuracy: 0.1)
        // Pinned text of this seeded example: a change in the builder shows here.
        XCTAssertEqual(needle, "One of the special magic numbers for \(s1.question.dropFirst(37).prefix(while: { $0 != " " })) is: \(value).")
        XCTAssertEqual(value, "4988833")
        XCTAssertEqual(s1.question, "What is the special magic number for flat-candle mentioned in the provided text?")

        // niah_multikey_3: UUID keys and values, the haystack made of other needles.
        let mk3 = b.ruler(.niahMultikey3, essays: hay, tokens: 900, depth: 0.2, seed: 1)
        let uuid = try XCTUnwrap(mk3.allOf?.first)
        XCTAssertNotNil(uuid.range(of: "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", options: .regularExpression), uuid)
        XCTAssertGreaterThan(mk3.context.components(separatedBy: "One of the special magic uuids for ").count, 5)

        // niah_multiquery: four keys asked, "a, b, c, and d", four values; plural template.
        let mq = b.ruler(.niahMultiquery, essays: hay, tokens: 500, depth: 0.7, seed: 2)
        XCTAssertEqual(mq.allOf?.count, 4)
        XCTAssertTrue(mq.question.hasPrefix("What are all the special magic numbers for ") && mq.question.contains(", and "), mq.question)
        XCTAssertEqual(mq.evidence?.count, 4)
        for (r, v) in zip(try XCTUnwrap(mq.evidence), try XCTUnwrap(mq.allOf)) { XCTAssertTrue(String(Array(mq.context)[r]).hasSuffix("is: \(v).")) }

        // vt: one demonstration (three-letter names) before the task, five names in the chain.
        let vt = b.ruler(.vt, essays: hay, tokens: 1200, depth: 0.3, seed: 4)
        XCTAssertEqual(vt.allOf?.count, 5)
        XCTAssertTrue(vt.instruction.hasPrefix("Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n"))
        XCTAssertEqual(vt.instruction.components(separatedBy: "Memorize and track").count - 1, 2, "demonstration + task")
        XCTAssertNotNil(vt.instruction.range(of: "they are: [A-Z]{3} [A-Z]{3} [A-Z]{3} [A-Z]{3} [A-Z]{3}\n\n", options: .regularExpression))
        let names = try XCTUnwrap(vt.allOf)
        XCTAssertTrue(vt.context.contains("VAR \(names[1]) = VAR \(names[0])"))
        XCTAssertTrue(vt.answerPrefix.contains("5 variables are assigned the value"))

        // cwe: ten words 30 times, the others 3 times (target >= 4096 in RULER's rule; 6 and 1 below).
        let cwe = b.ruler(.cwe, essays: hay, tokens: 1500, depth: 0, seed: 5)
        let top = try XCTUnwrap(cwe.allOf)
        XCTAssertEqual(top.count, 10)
        let items = cwe.context.split(separator: " ").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
        for w in top { XCTAssertEqual(items.filter { $0 == w }.count, 6, w) }
        XCTAssertTrue(cwe.context.hasPrefix("1. "))

        // fwe: the three most frequent coded words after the "..." noise word.
        let fwe = b.ruler(.fwe, essays: hay, tokens: 1500, depth: 0, seed: 6)
        let words = fwe.context.split(separator: " ").map(String.init)
        let counts = Dictionary(words.map { ($0, 1) }, uniquingKeysWith: +).sorted { $0.value > $1.value }
        XCTAssertEqual(counts.first?.key, "...")
        XCTAssertEqual(Set(counts.dropFirst().prefix(3).map(\.key)), Set(try XCTUnwrap(fwe.allOf)))
    }

    /// Every task fits its target with the answer budget, fills most of it, and is fixed by its seed.
    func testLengthsFitTheTarget() throws {
        let tok = try Tokenizer(gguf: GGUFFile(path: Fixtures.modelPath()))
        let b = RetrievalTaskBuilder(tokenizer: tok)
        let hay = (0..<3000).map { "Sentence \($0) is about gardens and startups." }.joined(separator: " ")
        for task in RulerTask.allCases {
            let ex = b.ruler(task, essays: hay, tokens: 2048, depth: 0.4, seed: 9)
            let n = tok.encode(ex.instruction + ex.context + "\n" + ex.question + ex.answerPrefix, parseSpecial: false, addBOS: false).count
            XCTAssertLessThanOrEqual(n + task.tokensToGenerate, 2048, "\(task)")
            XCTAssertGreaterThan(n + task.tokensToGenerate, 1800, "\(task): \(n)")
            XCTAssertEqual(b.ruler(task, essays: hay, tokens: 2048, depth: 0.4, seed: 9).context, ex.context, "\(task)")
            XCTAssertNotEqual(b.ruler(task, essays: hay, tokens: 2048, depth: 0.4, seed: 10).context, ex.context, "\(task)")
            for r in ex.references { XCTAssertTrue(ex.context.contains(r), "\(task): \(r) not planted") }
        }
    }
}
