import XCTest
import PCInference

/// The one JSON configuration: non-finite numbers survive a round trip as "nan"/"inf"/"-inf",
/// keys are sorted and slashes kept, and the same value always gives the same bytes.
final class JSONCodingTests: XCTestCase {
    struct Sample: Codable, Equatable {
        var zeta: Double, alpha: Double, mid: [Double], path: String, nested: [String: Double]
    }
    let sample = Sample(zeta: .nan, alpha: .infinity, mid: [-.infinity, 0.1, 1e-7, 2], path: "runs/a.h5",
                        nested: ["b": 3, "a": .nan])

    func testNonFiniteNumbersRoundTripAsStrings() throws {
        let text = try JSONCoding.line(sample)
        XCTAssertEqual(text, #"{"alpha":"inf","mid":["-inf",0.1,1e-07,2],"nested":{"a":"nan","b":3},"path":"runs/a.h5","zeta":"nan"}"#)
        let back = try JSONCoding.decode(Sample.self, from: text)
        XCTAssertTrue(back.zeta.isNaN)
        XCTAssertEqual(back.alpha, .infinity)
        XCTAssertEqual(back.mid[0], -.infinity)
        XCTAssertEqual(Array(back.mid.dropFirst()), [0.1, 1e-7, 2])
        XCTAssertTrue(back.nested["a"]!.isNaN)
        // Decoding and encoding again gives the same bytes (merged parts repeat rows byte for byte).
        XCTAssertEqual(try JSONCoding.line(back), text)
    }

    func testTwoEncodesAreByteIdentical() throws {
        let a = try JSONCoding.encoder().encode(sample), b = try JSONCoding.encoder().encode(sample)
        XCTAssertEqual(a, b)
        let p = try JSONCoding.encoder(pretty: true).encode(sample), q = try JSONCoding.encoder(pretty: true).encode(sample)
        XCTAssertEqual(p, q)
        XCTAssertEqual(try JSONCoding.decode(JSONValueProbe.self, from: p).path, "runs/a.h5")
    }

    private struct JSONValueProbe: Decodable { var path: String }
}
