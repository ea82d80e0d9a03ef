import XCTest
import ProbeAnalysis

/// The SHA-256 behind model hashes and shard work lists (libcrypto): FIPS 180-2 test vectors.
final class HashTests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(SHA256Hasher.hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256Hasher.hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256Hasher.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
