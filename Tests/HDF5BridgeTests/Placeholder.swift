import XCTest

final class HDF5BridgePlaceholderTests: XCTestCase {
    func testPlaceholder() {}
}
