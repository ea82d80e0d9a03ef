import Foundation
import XCTest
import HDF5Bridge

/// A fresh folder per test, removed afterwards.
final class TempFolder {
    let path: String

    init(_ label: String = #function) throws {
        let base = FileManager.default.temporaryDirectory.path
        let name = "hdf5bridge-\(label.filter(\.isLetter))-\(UUID().uuidString.prefix(8))"
        path = base + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    /// Everything in the folder, hidden files included.
    func listing() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Reproducible randomness: a failing seed can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random values of each element type, with the awkward cases (NaN, infinities, -0, extremes,
/// empty and non-ASCII strings) mixed in so a lossy round trip shows.
protocol RandomElement: H5Element, Equatable {
    static func random(_ rng: inout SplitMix64) -> Self
    /// Equality that treats identical bit patterns as equal (NaN == NaN).
    static func same(_ a: Self, _ b: Self) -> Bool
}

extension RandomElement {
    static func same(_ a: Self, _ b: Self) -> Bool { a == b }
}

extension Float: RandomElement {
    static func random(_ rng: inout SplitMix64) -> Float {
        let special: [Float] = [.nan, .infinity, -.infinity, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        return Int.random(in: 0..<8, using: &rng) == 0 ? special.randomElement(using: &rng)!
            : Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng) & 0xBF7F_FFFF)
    }
    static func same(_ a: Float, _ b: Float) -> Bool { a.bitPattern == b.bitPattern }
}

extension Double: RandomElement {
    static func random(_ rng: inout SplitMix64) -> Double {
        let special: [Double] = [.nan, .infinity, -.infinity, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        return Int.random(in: 0..<8, using: &rng) == 0 ? special.randomElement(using: &rng)!
            : Double.random(in: -1e300...1e300, using: &rng)
    }
    static func same(_ a: Double, _ b: Double) -> Bool { a.bitPattern == b.bitPattern }
}

extension Int32: RandomElement {
    static func random(_ rng: inout SplitMix64) -> Int32 { Int32.random(in: .min ... .max, using: &rng) }
}

extension Int64: RandomElement {
    static func random(_ rng: inout SplitMix64) -> Int64 { Int64.random(in: .min ... .max, using: &rng) }
}

extension UInt8: RandomElement {
    static func random(_ rng: inout SplitMix64) -> UInt8 { UInt8.random(in: 0 ... .max, using: &rng) }
}

extension String: RandomElement {
    static func random(_ rng: inout SplitMix64) -> String {
        let pieces = ["", "sink", "middle", "recent", "Grüße", "注意力", "🙂", "a b", "tab\there", "line\nbreak", "'quote\""]
        let n = Int.random(in: 0...3, using: &rng)
        return (0..<n).map { _ in pieces.randomElement(using: &rng)! }.joined()
    }
}

func randomArray<T: RandomElement>(_ type: T.Type, count: Int, _ rng: inout SplitMix64) -> [T] {
    (0..<count).map { _ in T.random(&rng) }
}

func assertSame<T: RandomElement>(_ a: [T], _ b: [T], _ message: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "\(message): count", file: file, line: line)
    if let i = a.indices.first(where: { $0 < b.count && !T.same(a[$0], b[$0]) }) {
        XCTFail("\(message): element \(i) differs: wrote \(a[i]), read \(b[i])", file: file, line: line)
    }
}

/// Runs `body` and returns the H5Error it throws; fails the test if it throws nothing.
func expectH5Error(_ what: String, file: StaticString = #filePath, line: UInt = #line,
                   _ body: () throws -> Void) -> H5Error? {
    do {
        try body()
        XCTFail("\(what): expected an H5Error, got success", file: file, line: line)
        return nil
    } catch let error as H5Error {
        XCTAssertFalse(error.description.contains("\n"), "\(what): description is not one line: \(error.description)",
                       file: file, line: line)
        return error
    } catch {
        XCTFail("\(what): expected an H5Error, got \(type(of: error)): \(error)", file: file, line: line)
        return nil
    }
}

/// Output of a python3 run.
struct PythonResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs `python3 -c script args...` the way a user would inspect a file. Fails the test (does not
/// skip) when python3 or h5py is missing, since then the files' readability is unchecked.
func runPython(_ script: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> PythonResult? {
    let prelude = """
    import sys, json
    try:
        import h5py, numpy
    except Exception as e:
        print("IMPORT_FAILED: %r" % (e,), file=sys.stderr)
        sys.exit(97)

    """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", prelude + script] + args
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    do {
        try process.run()
    } catch {
        XCTFail("could not start python3: \(error)", file: file, line: line)
        return nil
    }
    // Read before waiting so a large output cannot fill the pipe and block the child.
    let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let result = PythonResult(status: process.terminationStatus, stdout: stdout, stderr: stderr)
    if result.status == 97 {
        XCTFail("python3 cannot import h5py/numpy, so files cannot be checked the way users read them "
                + "(run scripts/setup.sh): \(stderr)", file: file, line: line)
        return nil
    }
    if result.status == 127 {
        XCTFail("python3 not found: \(stderr)", file: file, line: line)
        return nil
    }
    return result
}

/// Runs a python script that prints one JSON object and returns it.
func pythonJSON(_ script: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any]? {
    guard let r = try runPython(script, args, file: file, line: line) else { return nil }
    guard r.status == 0 else {
        XCTFail("python3 failed (\(r.status)): \(r.stderr)", file: file, line: line)
        return nil
    }
    guard let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else {
        XCTFail("python3 printed no JSON object: \(r.stdout)", file: file, line: line)
        return nil
    }
    return object
}
