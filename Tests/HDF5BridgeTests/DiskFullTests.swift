import Foundation
import XCTest
import HDF5Bridge

/// A full disk cannot be made without mounting (no tmpfs in CI), so these tests lower this
/// process's file-size limit (RLIMIT_FSIZE) instead: a write past it fails with EFBIG exactly where
/// ENOSPC would, through the same write(2) path in libhdf5. SIGXFSZ (default: kill the process) is
/// ignored meanwhile. Lowering a soft limit needs no privileges and it is restored afterwards; XCTest
/// runs tests one at a time, so no other test writes under the lowered limit.
final class DiskFullTests: XCTestCase {
    private let limit: UInt64 = 64 << 10

    private func withFileSizeLimit<R>(_ body: () throws -> R) throws -> R {
        var saved = rlimit()
        XCTAssertEqual(getrlimit(RLIMIT_FSIZE_ID, &saved), 0, "getrlimit: \(errno)")
        var lowered = saved
        lowered.rlim_cur = rlim_t(limit)
        let oldHandler = signal(SIGXFSZ, SIG_IGN)
        XCTAssertEqual(setrlimit(RLIMIT_FSIZE_ID, &lowered), 0, "setrlimit: \(errno)")
        defer {
            XCTAssertEqual(setrlimit(RLIMIT_FSIZE_ID, &saved), 0, "restoring the file-size limit failed")
            signal(SIGXFSZ, oldHandler)
        }
        return try body()
    }

    private func incompressible(_ count: Int) -> [Float] {
        var rng = SplitMix64(seed: 42)
        return (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
    }

    /// A contiguous write is passed straight to write(2): H5Dwrite itself must throw.
    func testContiguousWritePastTheLimitThrows() throws {
        let folder = try TempFolder()
        let values = incompressible(256 << 10)  // 1 MiB
        let error: H5Error? = try withFileSizeLimit {
            let file = try H5File.create(path: folder.file("full.h5"))
            defer { file.abandon() }
            return expectH5Error("contiguous write past limit") { try file.writeDataset("x", values) }
        }
        XCTAssertTrue(error?.description.contains("File too large") ?? false,
                      "expected the OS message in the one-line error: \(error?.description ?? "nil")")
    }

    /// Chunked data is cached and may only reach the disk when the dataset is closed; a dataset
    /// dropped in between cannot throw, so the file must report it at commit. Either way nothing
    /// may appear at the final path and the temporary file must be gone.
    func testAtomicCommitOfUnwritableDataThrowsAndLeavesNothing() throws {
        let folder = try TempFolder()
        let path = folder.file("trace.h5")
        let values = incompressible(128 << 10)  // 512 KiB: fits HDF5's 1 MiB chunk cache.
        var writeError: H5Error?
        var commitError: H5Error?
        try withFileSizeLimit {
            let file = try H5File.createAtomic(path: path)
            do throws(H5Error) {
                try writeAndDrop(file, values)
            } catch {
                writeError = error
            }
            commitError = expectH5Error("commit after failed write") { try file.commit() }
        }
        XCTAssertNotNil(commitError, "commit must fail when data could not be written (write error: \(String(describing: writeError)))")
        XCTAssertTrue(commitError?.description.contains("File too large") ?? false, commitError?.description ?? "")
        XCTAssertEqual(try folder.listing(), [], "neither the final file nor the temporary file may remain")
    }

    private func writeAndDrop(_ file: H5File, _ values: [Float]) throws(H5Error) {
        let d = try file.writeDataset("x", values, options: .compressed(level: 1, chunk: [32 << 10]))
        XCTAssertTrue(d.isOpen)
    }

    /// Same through an explicit close of a non-atomic file: close must throw.
    func testCloseOfUnwritableCachedDataThrows() throws {
        let folder = try TempFolder()
        let values = incompressible(128 << 10)
        let error: H5Error? = try withFileSizeLimit {
            let file = try H5File.create(path: folder.file("x.h5"))
            defer { file.abandon() }
            return expectH5Error("write then close past limit") {
                let d = try file.writeDataset("x", values, options: .init(chunk: [32 << 10]))
                try d.close()
            }
        }
        XCTAssertTrue(error?.description.contains("File too large") ?? false, error?.description ?? "nil")
    }

    /// A real ENOSPC: /dev/full refuses every write, so HDF5 fails as it writes the superblock.
    func testCreatingOnDevFullThrowsNoSpace() throws {
        XCTAssertTrue(FileManager.default.fileExists(atPath: "/dev/full"), "Linux provides /dev/full")
        let error = expectH5Error("create on /dev/full") { try H5File.create(path: "/dev/full").close() }
        XCTAssertTrue(error?.description.contains("No space left on device") ?? false, error?.description ?? "nil")
    }
}

#if canImport(Glibc)
// Glibc imports the resource number as an enum; the functions take its raw value.
private let RLIMIT_FSIZE_ID = __rlimit_resource_t(RLIMIT_FSIZE.rawValue)
#else
private let RLIMIT_FSIZE_ID = RLIMIT_FSIZE
#endif
