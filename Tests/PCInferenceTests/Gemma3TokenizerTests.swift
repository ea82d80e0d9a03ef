import Foundation
import XCTest
import PCInference

/// SentencePiece as GGUF stores it, against shared/golden/gemma3/tokenizer.json: ids exact.
final class Gemma3TokenizerTests: XCTestCase {
    func testGoldenTokenIDs() throws {
        let tok = try Gemma3Fixtures.tokenizer()
        let cases = try Gemma3Fixtures.golden("tokenizer.json")["cases"] as! [[String: Any]]
        XCTAssertEqual(cases.count, 7)
        for c in cases {
            let text = c["text"] as! String
            let want = (c["ids"] as! [NSNumber]).map(\.intValue)
            let got = tok.encode(text, parseSpecial: c["parse_special"] as! Bool, addBOS: c["add_bos"] as? Bool)
            XCTAssertEqual(got, want, "ids of \(text.debugDescription)")
            if (c["roundtrip_ok"] as? Bool) == true {
                XCTAssertEqual(tok.decode(Array(got.dropFirst())), text, "round trip of \(text.debugDescription)")
            }
        }
    }

    func testVocabularyFacts() throws {
        let tok = try Gemma3Fixtures.tokenizer()
        XCTAssertEqual(tok.vocabSize, 262144)
        XCTAssertEqual(tok.bosID, 2)
        XCTAssertTrue(tok.addBOSByDefault)
        XCTAssertEqual(tok.encode("The"), [2, 818])          // no space prefix
        XCTAssertEqual(tok.encode("\n\n", addBOS: false), [108])   // user-defined, even without parseSpecial
        XCTAssertTrue(tok.stopTokenIDs.contains(1) && tok.stopTokenIDs.contains(106))
    }
}
