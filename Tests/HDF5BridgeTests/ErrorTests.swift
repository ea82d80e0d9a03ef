import Foundation
import XCTest
import HDF5Bridge

final class ErrorTests: XCTestCase {

    func testOpeningANonHDF5FileGivesOneLineError() throws {
        let folder = try TempFolder()
        let path = folder.file("notes.txt")
        try Data("just some text\n".utf8).write(to: URL(fileURLWithPath: path))
        let error = expectH5Error("open text file") { _ = try H5File.open(path: path) }
        guard let error else { return }
        XCTAssertTrue(error.operation.contains(path), error.description)
        XCTAssertTrue(error.message.contains("signature"), "expected HDF5's 'file signature not found': \(error.description)")
        XCTAssertFalse(error.stack.isEmpty, "HDF5 errors carry the walked stack")
        XCTAssertFalse(error.description.contains("\n"))

        let missing = expectH5Error("open missing file") { _ = try H5File.open(path: folder.file("absent.h5")) }
        XCTAssertTrue(missing?.description.contains("No such file or directory") ?? false, missing?.description ?? "")
    }

    func testMissingDatasetAndMisuseGiveClearErrors() throws {
        let folder = try TempFolder()
        let file = try H5File.create(path: folder.file("f.h5"))
        try file.writeDataset("global/mass", [Float](repeating: 0, count: 6), shape: [2, 3])

        let missing = expectH5Error("missing dataset") { _ = try file.openDataset("global/nope") }
        XCTAssertEqual(missing?.operation, "open dataset '/global/nope'")
        XCTAssertTrue(missing?.message.contains("nothing named 'global/nope'") ?? false, missing?.description ?? "")
        let missingParent = expectH5Error("missing parent") { _ = try file.readDataset("nope/x", as: Float.self) }
        XCTAssertTrue(missingParent?.message.contains("nothing named") ?? false, missingParent?.description ?? "")

        let wrongType = expectH5Error("wrong type") { _ = try file.readDataset("global/mass", as: Int64.self) }
        XCTAssertTrue(wrongType?.message.contains("holds float32, not int64") ?? false, wrongType?.description ?? "")

        let badShape = expectH5Error("bad shape") { try file.writeDataset("y", [Float(1), 2, 3], shape: [2, 2]) }
        XCTAssertTrue(badShape?.message.contains("needs 4 values, got 3") ?? false, badShape?.description ?? "")
        XCTAssertFalse(try file.exists("y"), "a rejected write must not leave an empty dataset behind")

        let badLevel = expectH5Error("bad level") { try file.writeDataset("z", [Float(1)], options: .compressed(level: 12)) }
        XCTAssertTrue(badLevel?.message.contains("0...9") ?? false, badLevel?.description ?? "")

        let scalarChunk = expectH5Error("chunked scalar") { try file.writeDataset("s", [Float(1)], shape: [], options: .compressed()) }
        XCTAssertNotNil(scalarChunk)

        let nul = expectH5Error("NUL in string") { try file.writeDataset("n", ["a\u{0}b"]) }
        XCTAssertTrue(nul?.message.contains("NUL") ?? false, nul?.description ?? "")

        let exists = expectH5Error("dataset exists") { try file.writeDataset("global/mass", [Float(1)]) }
        XCTAssertNotNil(exists)

        try file.close()
    }

    func testWriteToReadOnlyFileThrows() throws {
        let folder = try TempFolder()
        let path = folder.file("ro.h5")
        try H5File.create(path: path).close()
        let file = try H5File.open(path: path, readOnly: true)
        XCTAssertTrue(file.isReadOnly)
        let error = expectH5Error("write read-only") { try file.writeDataset("x", [Int32(1)]) }
        XCTAssertTrue(error?.message.contains("read-only") ?? false, error?.description ?? "")
        try file.close()

        // HDF5 shares one open file between handles, so a read-only handle to a file that is also
        // open for writing would write; ours refuse.
        let writer = try H5File.open(path: path, readOnly: false)
        try writer.writeDataset("w", [Int32(1)])
        let reader = try H5File.open(path: path, readOnly: true)
        _ = expectH5Error("attribute via read-only handle") { try reader.setAttribute("a", 1) }
        _ = expectH5Error("dataset via read-only handle") { try reader.writeDataset("y", [Int32(1)]) }
        _ = expectH5Error("group via read-only handle") { _ = try reader.createGroup("g") }
        _ = expectH5Error("overwrite via read-only handle") { try reader.openDataset("w").write([Int32(2)]) }
        XCTAssertEqual(try reader.readDataset("w", as: Int32.self).values, [1])
        try reader.close()
        try writer.close()
    }

    /// HDF5 prints its error stack to stderr by default, per thread. None of that may appear, on
    /// this thread or on a fresh one.
    func testErrorsAreNotPrintedToStderr() throws {
        let folder = try TempFolder()
        let junk = folder.file("junk.bin")
        try Data(repeating: 7, count: 100).write(to: URL(fileURLWithPath: junk))
        let captured = folder.file("stderr.txt")

        fflush(nil)  // All C streams; `stderr` itself is not concurrency-safe to name.
        let saved = dup(STDERR_FILENO)
        let sink = open(captured, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(sink, 0)
        XCTAssertGreaterThanOrEqual(dup2(sink, STDERR_FILENO), 0)

        _ = try? H5File.open(path: junk)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            _ = try? H5File.open(path: junk)
            _ = try? H5File.create(path: "/nonexistent-dir/x.h5")
            done.signal()
        }
        thread.start()
        done.wait()

        fflush(nil)  // All C streams; `stderr` itself is not concurrency-safe to name.
        dup2(saved, STDERR_FILENO)
        close(saved)
        close(sink)
        let text = try String(contentsOfFile: captured, encoding: .utf8)
        XCTAssertEqual(text, "", "HDF5 printed to stderr:\n\(text)")
    }

    /// Every identifier opened is closed again, on success and error paths alike.
    func testNoIdentifierLeaks() throws {
        let folder = try TempFolder()
        let handles = H5Diagnostics.openHandleCount
        let objects = try H5Diagnostics.openObjectCount()
        for _ in 0..<3 { try exercise(folder) }
        XCTAssertEqual(H5Diagnostics.openHandleCount, handles, "handles leaked")
        XCTAssertEqual(try H5Diagnostics.openObjectCount(), objects, "HDF5 objects leaked")
    }

    private func exercise(_ folder: TempFolder) throws {
        let path = folder.file("leak.h5")
        let baseline = H5Diagnostics.openHandleCount
        let file = try H5File.createAtomic(path: path)
        XCTAssertEqual(H5Diagnostics.openHandleCount, baseline + 1, "the counter must see the open file")
        let d = try file.writeDataset("g/d", ["a", "b"], options: .compressed(), dims: ["n"])
        try d.setAttribute("units", ["x", "y"])
        let scale = try file.writeDimensionScale("n", [Int32(0), 1])
        try d.attachScale(scale, dimension: 0)
        let grow = try file.createDataset("grow", of: Double.self, shape: [0, 2], options: .init(extendible: true))
        try grow.append(rows: [1.0, 2.0])
        _ = try d.read(as: String.self)
        _ = try d.info()
        _ = try d.dimensionLabels()
        _ = try file.memberNames()
        _ = try d.attributeNames()
        _ = try d.attribute("units")
        _ = expectH5Error("wrong type") { _ = try d.read(as: Float.self) }
        _ = expectH5Error("missing") { _ = try file.openDataset("nope") }
        _ = expectH5Error("missing attr") { _ = try d.attribute("nope") }
        _ = expectH5Error("exists") { _ = try file.createGroup("g") }
        _ = expectH5Error("append partial") { try grow.append(rows: [1.0]) }
        try file.commit()
        let reopened = try H5File.open(path: path)
        _ = try reopened.readDataset("g/d", as: String.self)
        _ = expectH5Error("not hdf5") { _ = try H5File.open(path: folder.path) }
        try reopened.close()
    }

    func testErrorIsSendableAndPrintable() {
        let error = H5Error(operation: "do a\nthing", message: "went\nwrong")
        let copy: any Error & Sendable = error
        XCTAssertEqual("\(copy)", "do a thing: went wrong")
    }

    /// libhdf5 is thread-safe and keeps one error stack per thread: files used on different
    /// threads at once must work, and each thread's error must describe its own failure.
    func testIndependentFilesOnSeveralThreads() throws {
        let folder = try TempFolder()
        let failures = FailureList()
        let dir = folder.path
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            do {
                let file = try H5File.createAtomic(path: dir + "/t\(i).h5")
                for j in 0..<20 {
                    try file.writeDataset("d\(j)", [Int64](repeating: Int64(i), count: 1000), options: .compressed())
                    do {
                        _ = try file.openDataset("missing\(i)")
                        failures.add("thread \(i): no error for a missing dataset")
                    } catch {
                        if !"\(error)".contains("missing\(i)") { failures.add("thread \(i) got: \(error)") }
                    }
                    do {
                        _ = try H5File.open(path: dir + "/none\(i).h5")
                    } catch {
                        if !"\(error)".contains("none\(i).h5") { failures.add("thread \(i) got: \(error)") }
                    }
                }
                try file.commit()
                let back = try H5File.open(path: dir + "/t\(i).h5").readDataset("d19", as: Int64.self)
                if back.values != [Int64](repeating: Int64(i), count: 1000) { failures.add("thread \(i): wrong data") }
            } catch {
                failures.add("thread \(i): \(error)")
            }
        }
        XCTAssertEqual(failures.all, [])
    }
}

/// Collects messages from several threads. `@unchecked Sendable`: `items` is only touched under `lock`.
private final class FailureList: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}
