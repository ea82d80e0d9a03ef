import XCTest

final class HeatmapPlaceholderTests: XCTestCase {
    func testPlaceholder() {}
}
