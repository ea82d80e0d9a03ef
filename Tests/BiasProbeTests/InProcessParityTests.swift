import Foundation
import XCTest

/// Most CLI tests run commands in-process (`CLI.run`); that is only as good as its match with the
/// built binary. Here the same command lines go both ways: exit status, stdout and stderr must be
/// identical, for help, a version, a schema on stdout, and errors of each kind on stderr.
final class InProcessParityTests: XCTestCase {
    func testInProcessRunsMatchTheBinary() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let notTrace = dir.appendingPathComponent("notes.txt").path
        try "hello".write(toFile: notTrace, atomically: true, encoding: .utf8)
        let lines: [[String]] = [
            ["--version"],
            ["trace", "--help"],
            ["inspect", "--schema"],
            ["trace", "--context", "12x"],                               // a bad option value
            ["eval", "passkey", "--first-seed=-1"],                       // a validation error
            ["plot", "layer", "-1", "--trace", notTrace],                 // a negative value read as an option
            ["inspect", notTrace],                                        // a refused file
            ["no-such-command"],
        ]
        for args in lines {
            let inside = try CLI.run(args), outside = try CLI.runBinary(args)
            XCTAssertEqual(inside.status, outside.status, "\(args): exit status")
            XCTAssertEqual(inside.stdout, outside.stdout, "\(args): stdout")
            XCTAssertEqual(inside.stderr, outside.stderr, "\(args): stderr")
        }
        // The lines above cover both streams and both outcomes.
        XCTAssertEqual(try CLI.runBinary(["--version"]).status, 0)
        XCTAssertFalse(try CLI.runBinary(["inspect", "--schema"]).stdout.isEmpty)
        XCTAssertNotEqual(try CLI.runBinary(["inspect", notTrace]).status, 0)
        XCTAssertTrue(try CLI.runBinary(["inspect", notTrace]).stdout.isEmpty)
    }
}
