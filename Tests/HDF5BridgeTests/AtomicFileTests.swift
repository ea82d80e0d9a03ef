import XCTest
import HDF5Bridge

final class AtomicFileTests: XCTestCase {

    /// rename() replaces whatever node is at the target: a FIFO or folder there is refused (at
    /// creation and again at commit), never swapped for the file.
    func testNonRegularTargetIsRefusedAndKept() throws {
        let folder = try TempFolder()
        let fifo = folder.file("pipe.h5")
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let refused = expectH5Error("create over a FIFO") { _ = try H5File.createAtomic(path: fifo) }
        XCTAssertTrue(refused?.message.contains("not a regular file") ?? false, refused?.description ?? "")
        // A FIFO that appears while the file is written is refused at commit.
        let path = folder.file("late.h5")
        let file = try H5File.createAtomic(path: path)
        try file.setAttribute("x", 1)
        XCTAssertEqual(mkfifo(path, 0o644), 0)
        let late = expectH5Error("commit over a FIFO") { try file.commit() }
        XCTAssertTrue(late?.message.contains("not a regular file") ?? false, late?.description ?? "")
        var st = stat()
        XCTAssertEqual(lstat(path, &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFIFO, "the FIFO must still be there")
        XCTAssertEqual(try folder.listing(), ["late.h5", "pipe.h5"], "no temporary file left")
    }

    func testOnlyTemporaryBeforeCommitOnlyFinalAfter() throws {
        let folder = try TempFolder()
        let path = folder.file("trace.h5")
        let file = try H5File.createAtomic(path: path)
        let temp = try XCTUnwrap(file.temporaryPath)
        XCTAssertTrue(file.isAtomic)
        XCTAssertEqual((temp as NSString).deletingLastPathComponent, folder.path, "temp must sit next to the final file")
        XCTAssertTrue((temp as NSString).lastPathComponent.hasPrefix(".trace.h5.tmp-\(getpid())"), temp)

        let dataset = try file.writeDataset("x", [Int32(7), 8, 9])
        try file.setAttribute("done", "yes")
        try file.flush()
        XCTAssertEqual(try folder.listing(), [(temp as NSString).lastPathComponent], "before commit: only the temp file")

        try file.commit()
        XCTAssertNil(file.temporaryPath)
        XCTAssertEqual(try folder.listing(), ["trace.h5"], "after commit: only the final file")
        // Commit closed the dataset object too; using it now is a clear error, not a crash.
        let closed = expectH5Error("use after commit") { _ = try dataset.read(as: Int32.self) }
        XCTAssertTrue(closed?.message.contains("closed") ?? false, closed?.description ?? "")
        XCTAssertFalse(dataset.isOpen)
        let again = expectH5Error("second commit") { try file.commit() }
        XCTAssertNotNil(again)

        let reopened = try H5File.open(path: path)
        XCTAssertEqual(try reopened.readDataset("x", as: Int32.self).values, [7, 8, 9])
        XCTAssertEqual(try reopened.attribute("done"), .string("yes"))
    }

    func testDroppingWithoutCommitLeavesNothing() throws {
        let folder = try TempFolder()
        let path = folder.file("trace.h5")
        let temp = try writeAndDrop(path)
        XCTAssertFalse(FileManager.default.fileExists(atPath: temp))
        XCTAssertEqual(try folder.listing(), [], "dropping without commit must leave nothing")
    }

    private func writeAndDrop(_ path: String) throws -> String {
        let file = try H5File.createAtomic(path: path)
        try file.writeDataset("x", [Double](repeating: 1, count: 1000), options: .compressed())
        let temp = try XCTUnwrap(file.temporaryPath)
        XCTAssertTrue(FileManager.default.fileExists(atPath: temp))
        return temp
    }

    /// A dataset keeps its file alive, so the temp file goes when the last object goes.
    func testOpenDatasetKeepsUncommittedFileUntilDropped() throws {
        let folder = try TempFolder()
        var dataset: H5Dataset? = try makeDatasetOnly(folder.file("t.h5"))
        XCTAssertEqual(try folder.listing().count, 1)
        try dataset?.write([Float(1), 2])
        dataset = nil
        XCTAssertEqual(try folder.listing(), [])
    }

    private func makeDatasetOnly(_ path: String) throws -> H5Dataset {
        try H5File.createAtomic(path: path).createDataset("d", of: Float.self, shape: [2])
    }

    func testAbandonAndCloseDiscard() throws {
        let folder = try TempFolder()
        let a = try H5File.createAtomic(path: folder.file("a.h5"))
        try a.writeDataset("x", [UInt8(1)])
        a.abandon()
        XCTAssertNil(a.temporaryPath)
        let b = try H5File.createAtomic(path: folder.file("b.h5"))
        try b.close()
        XCTAssertEqual(try folder.listing(), [])
        let commitAfterAbandon = expectH5Error("commit after abandon") { try a.commit() }
        XCTAssertNotNil(commitAfterAbandon)
        let notAtomic = try H5File.create(path: folder.file("plain.h5"))
        let plainCommit = expectH5Error("commit a plain file") { try notAtomic.commit() }
        XCTAssertTrue(plainCommit?.message.contains("not an atomic file") ?? false, plainCommit?.description ?? "")
    }

    /// Commit replaces an existing final file in one step, and two writers of one path do not clash.
    func testCommitReplacesExistingFileAndParallelWritersGetDistinctTemps() throws {
        let folder = try TempFolder()
        let path = folder.file("trace.h5")
        let old = try H5File.create(path: path)
        try old.writeDataset("version", [Int64(1)])
        try old.close()

        let first = try H5File.createAtomic(path: path)
        let second = try H5File.createAtomic(path: path)
        XCTAssertNotEqual(first.temporaryPath, second.temporaryPath)
        try first.writeDataset("version", [Int64(2)])
        try second.writeDataset("version", [Int64(3)])
        XCTAssertEqual(try H5File.open(path: path).readDataset("version", as: Int64.self).values, [1])
        try first.commit()
        XCTAssertEqual(try H5File.open(path: path).readDataset("version", as: Int64.self).values, [2])
        second.abandon()
        XCTAssertEqual(try folder.listing(), ["trace.h5"])
    }

    func testCreateInMissingFolderFailsCleanly() throws {
        let folder = try TempFolder()
        let error = expectH5Error("missing folder") { _ = try H5File.createAtomic(path: folder.file("no/such/x.h5")) }
        XCTAssertTrue(error?.description.contains("No such file or directory") ?? false, error?.description ?? "")
    }

    /// Leftovers of killed writers (dead pid) are removed; those of live processes are not.
    func testRemoveStaleTemporaryFiles() throws {
        let folder = try TempFolder()
        let path = folder.file("trace.h5")
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let deadPID = finished.processIdentifier  // Reaped, so no such process any more.
        let names = [".trace.h5.tmp-\(deadPID)", ".trace.h5.tmp-\(deadPID)-2", ".trace.h5.tmp-1",
                     ".other.h5.tmp-\(deadPID)", "trace.h5"]
        for name in names { XCTAssertTrue(FileManager.default.createFile(atPath: folder.file(name), contents: Data())) }
        let live = try H5File.createAtomic(path: path)  // Our own temp file: this process is alive.

        let removed = try H5File.removeStaleTemporaryFiles(for: path)
        XCTAssertEqual(Set(removed), [folder.file(".trace.h5.tmp-\(deadPID)"), folder.file(".trace.h5.tmp-\(deadPID)-2")])
        let liveTemp = try XCTUnwrap(live.temporaryPath)
        XCTAssertEqual(try folder.listing(), [".other.h5.tmp-\(deadPID)", ".trace.h5.tmp-1",
                                              (liveTemp as NSString).lastPathComponent, "trace.h5"].sorted())
        live.abandon()
        XCTAssertNotNil(expectH5Error("missing folder") { try H5File.removeStaleTemporaryFiles(for: folder.file("no/x.h5")) })
    }
}
