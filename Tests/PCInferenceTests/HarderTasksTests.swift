import XCTest
import PCInference

/// The harder eval tasks, built from a synthetic haystack: fixed by their seed, the asked needle
/// where its range says, every value to find in the context, and about the length asked.
final class HarderTasksTests: XCTestCase {
    func testEveryTaskIsSeededPlantedAndSized() throws {
        let tok = try Tokenizer(gguf: GGUFFile(path: Fixtures.modelPath()))
        let b = RetrievalTaskBuilder(tokenizer: tok)
        let hay = (0..<300).map { "Sentence number \($0) talks about gardens and startups." }.joined(separator: " ")
        for task in RetrievalTask.allCases where task.ruler == nil {   // RULER's: RulerTasksTests
            let ex = task.example(b, essays: hay, tokens: 1000, depth: 0.3, seed: 5)
            let again = task.example(b, essays: hay, tokens: 1000, depth: 0.3, seed: 5)
            let other = task.example(b, essays: hay, tokens: 1000, depth: 0.3, seed: 6)
            XCTAssertEqual(ex.context, again.context, "\(task)")
            XCTAssertEqual(ex.answer, again.answer, "\(task)")
            XCTAssertNotEqual(ex.context + ex.answer, other.context + other.answer, "\(task)")
            let n = tok.encode(ex.context, parseSpecial: false, addBOS: false).count
            XCTAssertTrue((700...1100).contains(n), "\(task): \(n) tokens")
            let chars = Array(ex.context)
            let needle = String(chars[ex.needle])
            switch task {
            case .passkey, .niah, .mkNiah, .kv:
                XCTAssertTrue(needle.contains(ex.answer), "\(task): needle '\(needle)' lacks \(ex.answer)")
                XCTAssertFalse(ex.isCorrect("nothing"), "\(task)")
                XCTAssertTrue(ex.isCorrect(" \(ex.answer)."), "\(task)")
            case .mvNiah, .vt:
                let all = try XCTUnwrap(ex.allOf, "\(task)")
                XCTAssertEqual(all.count, 4, "\(task)")
                for v in all { XCTAssertTrue(ex.context.contains(v), "\(task): \(v) missing") }
                XCTAssertTrue(needle.contains(all[0]), "\(task): needle '\(needle)'")
                XCTAssertFalse(ex.isCorrect(all.dropLast().joined(separator: " ")), "\(task): three of four is not correct")
                XCTAssertTrue(ex.isCorrect(all.reversed().joined(separator: ", ")), "\(task)")
            case .ppl:
                XCTAssertTrue(ex.scoredOnly)
                XCTAssertFalse(ex.isCorrect(ex.answer))
                let a = tok.encode(ex.answer, parseSpecial: false, addBOS: false).count
                XCTAssertTrue((50...80).contains(a), "ppl continuation: \(a) tokens")
            default: XCTFail("\(task) is RULER's")
            }
        }
        // Multi-key: four distinct cities, only the asked one in the question.
        let mk = RetrievalTask.mkNiah.example(b, essays: hay, tokens: 1000, depth: 0.3, seed: 5)
        XCTAssertEqual(mk.context.components(separatedBy: "The special magic ").count - 1, 4)
        // Variable tracking: the chain appears in order, the value first.
        let vt = RetrievalTask.vt.example(b, essays: hay, tokens: 1000, depth: 0.3, seed: 5)
        let at = vt.allOf!.map { vt.context.range(of: "VAR \($0) =")!.lowerBound }
        XCTAssertEqual(at, at.sorted())
    }
}
