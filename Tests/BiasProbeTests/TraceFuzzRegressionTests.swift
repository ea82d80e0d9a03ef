import Foundation
import XCTest

/// Traces that crashed or hung `biasprobe inspect` (Fixtures/fuzz-crashes/, from the trace fuzz
/// target Fuzz/TraceFuzz and from reading the code it pointed at). Each must now give exit 1 and
/// one line on stderr, and never a signal.
final class TraceFuzzRegressionTests: XCTestCase {
    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/fuzz-crashes/\(name)").path
    }

    private func assertRefused(_ name: String, mentioning words: [String], environment: [String: String] = [:],
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let started = Date()
        let r = try CLI.run(["inspect", Self.fixture(name)], environment: environment)
        XCTAssertEqual(r.status, 1, "\(name): \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(name): expected one line:\n\(r.stderr)", file: file, line: line)
        for w in words { XCTAssertTrue(r.stderr.contains(w), "\(name): '\(w)' missing from: \(r.stderr)", file: file, line: line) }
        XCTAssertLessThan(Date().timeIntervalSince(started), 60, "\(name) took too long", file: file, line: line)
    }

    /// The `layers` attribute says 1000 while the arrays hold 1 layer: inspect indexed
    /// global/band_mass by the attribute and read far past the array (a segfault in the
    /// -Ounchecked release build). Shapes are now checked against the attributes first.
    func testAttributesThatDisagreeWithArraysAreRefused() throws {
        try assertRefused("inspect-layers-beyond-arrays.h5", mentioning: ["global/band_mass", "shape", "expected"])
    }

    /// A damaged global heap (where variable-length strings live; nothing checksums it) makes
    /// libhdf5 1.10 dereference a wild pointer while reading a string attribute. Not ours to
    /// fix: the trace is read in a child process first, which dies instead of biasprobe.
    func testFileThatCrashesLibhdf5IsReportedAsDamaged() throws {
        try assertRefused("libhdf5-global-heap-segv.h5", mentioning: ["is damaged", "libhdf5 crashed"])
    }

    /// Sweep files are read through the same child-process check: the damaged global heap that
    /// crashes libhdf5 while reading a string attribute is reported, not inherited, by `plot sweep`.
    func testSweepReaderIsIsolatedFromLibhdf5Crashes() throws {
        let r = try CLI.run(["plot", "sweep", "--sweep", Self.fixture("libhdf5-global-heap-segv.h5"), "-o", "/tmp/never-written.png"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("is damaged") && r.stderr.contains("libhdf5 crashed"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/never-written.png"))
    }

    /// Another damaged global heap sends libhdf5 into an endless loop: the child is stopped
    /// after BIASPROBE_TRACE_CHECK_SECONDS (30 by default).
    func testFileThatHangsLibhdf5IsReportedAsDamaged() throws {
        try assertRefused("libhdf5-global-heap-hang.h5", mentioning: ["is damaged", "did not finish"],
                          environment: ["BIASPROBE_TRACE_CHECK_SECONDS": "3"])
    }

    /// The checks refuse nothing real: the fuzz seeds (shrunk real traces) still inspect.
    func testValidShrunkTracesStillInspect() throws {
        let corpus = CLI.packageRoot.appendingPathComponent("Fuzz/corpus/trace")
        // mutant-* seeds are damaged on purpose (the fuzzer starts from them); the rest are valid.
        let names = try FileManager.default.contentsOfDirectory(atPath: corpus.path).sorted()
            .filter { $0.hasSuffix(".h5") && !$0.hasPrefix("mutant-") }
        XCTAssertFalse(names.isEmpty)
        for name in names {
            let r = try CLI.run(["inspect", corpus.appendingPathComponent(name).path])
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("strongest global sink heads"), r.stdout)
        }
    }
}

extension TraceFuzzRegressionTests {
    /// The damaged seeds are refused with one line, never a crash.
    func testMutantSeedsAreRefusedWithOneLine() throws {
        let corpus = CLI.packageRoot.appendingPathComponent("Fuzz/corpus/trace")
        let names = try FileManager.default.contentsOfDirectory(atPath: corpus.path).sorted().filter { $0.hasPrefix("mutant-") }
        for name in names {
            let r = try CLI.run(["inspect", corpus.appendingPathComponent(name).path])
            XCTAssertEqual(r.status, 1, "\(name): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(name): \(r.stderr)")
        }
    }
}
