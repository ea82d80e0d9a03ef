import XCTest

final class PCInferencePlaceholderTests: XCTestCase {
    func testPlaceholder() {}
}
