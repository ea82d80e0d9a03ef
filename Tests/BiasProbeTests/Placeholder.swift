import XCTest

final class BiasProbePlaceholderTests: XCTestCase {
    func testPlaceholder() {}
}
