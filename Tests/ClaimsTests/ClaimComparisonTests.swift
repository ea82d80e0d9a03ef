import Foundation
import PCInference
import ProbeAnalysis
import XCTest

/// comparison.md puts runs side by side; it must say which protocol version and prompt layout
/// each column ran under, and warn when the columns mix versions (v1 computed several
/// statistics differently, so a label change across them is not a model difference).
final class ClaimComparisonTests: XCTestCase {
    private func folder(_ root: URL, _ name: String, settingsJSON: String?) throws {
        let dir = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let settings = settingsJSON.map { ", \"settings\": \($0)" } ?? ""
        try "{\"model\": \"M\", \"claims\": []\(settings)}".write(to: dir.appendingPathComponent("claims.json"), atomically: true, encoding: .utf8)
    }

    func testColumnsNameTheirProtocolAndLayoutAndMixedVersionsAreFlagged() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cmp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        // A v1 claims.json had settings without a layout or version (they decode as chat, v1).
        try folder(root, "old", settingsJSON: #"{"examples": 20, "width": 256}"#)
        try folder(root, "new", settingsJSON: try JSONCoding.line(ClaimSettings()))
        try ClaimComparison.write(root: root.path)
        let md = try String(contentsOf: root.appendingPathComponent("comparison.md"), encoding: .utf8)
        XCTAssertTrue(md.contains("**Mixed protocol versions** (v1, v\(ClaimProtocol.version))"), md)
        XCTAssertTrue(md.contains("20 examples, 256-token chunks, chat layout, protocol v1"), md)
        XCTAssertTrue(md.contains("40 examples, 256-token chunks, official layout, protocol v\(ClaimProtocol.version)"), md)
        XCTAssertTrue(md.contains("(`old`)") && md.contains("(`new`)"), "columns of one model must be told apart by folder")

        // One version only: no warning.
        try FileManager.default.removeItem(at: root.appendingPathComponent("old"))
        try ClaimComparison.write(root: root.path)
        let single = try String(contentsOf: root.appendingPathComponent("comparison.md"), encoding: .utf8)
        XCTAssertFalse(single.contains("Mixed protocol versions"), single)

        // v3 beside v4: the same statistics (v4 only added a size), said so, no warning.
        try FileManager.default.removeItem(at: root.appendingPathComponent("new"))
        var v3 = ClaimSettings(); v3.protocolVersion = "3"
        var v4 = ClaimSettings.window; v4.protocolVersion = "4"
        try folder(root, "v3", settingsJSON: try JSONCoding.line(v3))
        try folder(root, "window", settingsJSON: try JSONCoding.line(v4))
        try ClaimComparison.write(root: root.path)
        let both = try String(contentsOf: root.appendingPathComponent("comparison.md"), encoding: .utf8)
        XCTAssertFalse(both.contains("Mixed protocol versions"), both)
        XCTAssertTrue(both.contains("Protocol versions v3, v4 share every statistic"), both)
        XCTAssertTrue(both.contains("20 examples, 768-token chunks (window size)"), both)
    }
}
