import CHDF5
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open HDF5 file; as a group it is the root group ("/"), and its attributes are the file's.
///
/// `createAtomic(path:)` writes to a hidden temporary file next to `path` and only `commit()`
/// renames it into place, so an interrupted run never leaves a complete-looking trace behind.
public final class H5File: H5Group {
    /// The file's path on disk (for an atomic file: where `commit()` puts it).
    public let filePath: String
    /// The file being written until `commit()`; nil for ordinary files and after commit/abandon.
    public private(set) var temporaryPath: String?
    public let isReadOnly: Bool
    /// Whether this file was made by `createAtomic(path:)`.
    public let isAtomic: Bool

    /// Groups and datasets opened from this file, so closing the file can close them first.
    private var openObjects: [WeakObject] = []
    /// Errors from objects that failed to close in a deinit; reported by flush, close and commit.
    private var deferredErrors: [H5Error] = []

    private init(handle: H5Handle, filePath: String, temporaryPath: String?, readOnly: Bool) {
        self.filePath = filePath
        self.temporaryPath = temporaryPath
        self.isReadOnly = readOnly
        self.isAtomic = temporaryPath != nil
        super.init(handle: handle, path: "/", owner: nil)
    }

    // MARK: Opening

    /// Creates `path`, replacing any existing file.
    public static func create(path: String) throws(H5Error) -> H5File {
        let fapl = try accessList(forCreation: true)
        let h = try H5Call.handle(.file, "create file '\(path)'") {
            H5Fcreate(path, bp_H5F_ACC_TRUNC(), bp_H5P_DEFAULT(), fapl.id)
        }
        return H5File(handle: h, filePath: path, temporaryPath: nil, readOnly: false)
    }

    /// Opens an existing file.
    public static func open(path: String, readOnly: Bool = true) throws(H5Error) -> H5File {
        let fapl = try accessList(forCreation: false)
        let flags = readOnly ? bp_H5F_ACC_RDONLY() : bp_H5F_ACC_RDWR()
        let h = try H5Call.handle(.file, "open file '\(path)'") { H5Fopen(path, flags, fapl.id) }
        return H5File(handle: h, filePath: path, temporaryPath: nil, readOnly: readOnly)
    }

    /// Starts writing a file that appears at `path` only when `commit()` succeeds. Until then the
    /// data goes to `.<name>.tmp-<pid>` in the same folder (same file system, so the final rename
    /// is atomic). Dropping the object, `abandon()` or `close()` before commit delete that file.
    public static func createAtomic(path: String) throws(H5Error) -> H5File {
        let (folder, name) = splitPath(path)
        let base = "\(folder)/.\(name).tmp-\(getpid())"
        // Several atomic writers in one process may target the same path: pick a free name.
        // EXCL below still refuses a name that appears in between.
        try refuseNonRegularTarget(path, "create '\(path)'")
        var temp = base
        var n = 0
        while access(temp, F_OK) == 0 {
            n += 1
            temp = "\(base)-\(n)"
        }
        let fapl = try accessList(forCreation: true)
        let h = try H5Call.handle(.file, "create temporary file '\(temp)' for '\(path)'") {
            H5Fcreate(temp, bp_H5F_ACC_EXCL(), bp_H5P_DEFAULT(), fapl.id)
        }
        return H5File(handle: h, filePath: path, temporaryPath: temp, readOnly: false)
    }

    /// rename() replaces whatever node is at the target: a device, FIFO or socket would be
    /// swapped for a regular file (a folder fails later, after all the work). Only a regular file
    /// or a symbolic link (the link is replaced, its target untouched) may be there.
    static func refuseNonRegularTarget(_ path: String, _ operation: String) throws(H5Error) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG || type == S_IFLNK else {
            throw H5Error(operation: operation, message: "'\(path)' exists and is not a regular file")
        }
    }

    /// Deletes the temporary files that atomic writers of `path` left behind when they were killed
    /// before committing (SIGKILL, power loss): `.<name>.tmp-<pid>...` whose process no longer
    /// exists on this machine. Files of live processes, this one included, are kept. Returns the
    /// deleted paths.
    @discardableResult
    public static func removeStaleTemporaryFiles(for path: String) throws(H5Error) -> [String] {
        let operation = "remove stale temporary files for '\(path)'"
        let (folder, name) = splitPath(path)
        let prefix = ".\(name).tmp-"
        guard let dir = opendir(folder) else {
            throw H5Error(operation: operation, message: "open folder '\(folder)': \(lastOSError())")
        }
        var candidates: [(path: String, pid: pid_t)] = []
        while let entry = readdir(dir) {
            let entryName = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard entryName.hasPrefix(prefix) else { continue }
            let digits = entryName.dropFirst(prefix.count).prefix(while: \.isNumber)
            guard let pid = pid_t(digits), pid > 0 else { continue }
            candidates.append((folder + "/" + entryName, pid))
        }
        _ = closedir(dir)  // Read-only directory stream: nothing to lose if closing fails.
        var removed: [String] = []
        for candidate in candidates where candidate.pid != getpid() {
            // kill(pid, 0) probes without sending; ESRCH means no such process. EPERM means it
            // exists but belongs to someone else, so its file stays.
            guard kill(candidate.pid, 0) != 0, errno == ESRCH else { continue }
            if unlink(candidate.path) == 0 {
                removed.append(candidate.path)
            } else if errno != ENOENT {
                throw H5Error(operation: operation, message: "delete '\(candidate.path)': \(lastOSError())")
            }
        }
        return removed
    }

    /// File access settings. "Strong" close degree makes H5Fclose close anything still open, so a
    /// closed file really is closed before a commit renames it. New files use the HDF5 1.8 format:
    /// every current reader (h5py, netCDF-4, HDF5 1.8+) opens it, and unlike the 1.0 format it
    /// stores large attributes.
    private static func accessList(forCreation: Bool) throws(H5Error) -> H5Handle {
        let cls = try H5Call.borrowed("look up file access class") { bp_H5P_FILE_ACCESS() }
        let fapl = try H5Call.handle(.propertyList, "create file access list") { H5Pcreate(cls) }
        try H5Call.status("set file close degree") { H5Pset_fclose_degree(fapl.id, H5F_CLOSE_STRONG) }
        if forCreation {
            try H5Call.status("set file format version") {
                H5Pset_libver_bounds(fapl.id, H5F_LIBVER_V18, H5F_LIBVER_V18)
            }
        }
        return fapl
    }

    // MARK: Finishing

    /// Writes everything HDF5 caches to disk. Also reports an earlier failure to close a dropped
    /// dataset (which may have lost cached data), and keeps reporting it until the file is closed.
    public func flush() throws(H5Error) {
        let id = try openID("flush '\(filePath)'")
        if let e = deferredErrors.first { throw e }
        try H5Call.status("flush '\(filePath)'") { H5Fflush(id, H5F_SCOPE_GLOBAL) }
    }

    /// Publishes an atomic file: flushes, closes (together with every group and dataset opened
    /// from it), syncs it to disk and renames it onto `filePath`. On failure the temporary file is
    /// deleted and nothing appears at `filePath`.
    public func commit() throws(H5Error) {
        let operation = "commit '\(filePath)'"
        guard isAtomic else { throw H5Error(operation: operation, message: "not an atomic file (use createAtomic)") }
        guard let temp = temporaryPath, handle.isOpen else {
            throw H5Error(operation: operation, message: "already committed or abandoned")
        }
        do throws(H5Error) {
            try closeEverything(operation)
            try syncToDisk(temp, operation)
            try Self.refuseNonRegularTarget(filePath, operation)
            guard rename(temp, filePath) == 0 else {
                throw H5Error(operation: operation, message: "rename from '\(temp)': \(lastOSError())")
            }
        } catch {
            abandon()
            throw error
        }
        temporaryPath = nil
        // Makes the rename itself durable. Best effort: some file systems refuse fsync on a folder,
        // and the file is already complete and in place.
        let dir = posixOpen(Self.splitPath(filePath).folder, O_RDONLY | O_DIRECTORY)
        if dir >= 0 {
            _ = fsync(dir)
            _ = posixClose(dir)
        }
    }

    /// Closes the file and everything opened from it. For an uncommitted atomic file this
    /// discards it, like `abandon()`. Throws if data could not be written.
    public override func close() throws(H5Error) {
        if temporaryPath != nil { abandon(); return }
        guard handle.isOpen else { return }
        try closeEverything("close '\(filePath)'")
    }

    /// Closes without publishing: an atomic file's temporary file is deleted; an ordinary file is
    /// closed (errors ignored). Never throws, so it is safe in error paths and deinit.
    public func abandon() {
        for object in takeOpenObjects() { try? object.handle.close() }
        try? closeFileID()
        deferredErrors.removeAll()
        if let temp = temporaryPath {
            // Nothing more can be done if unlink fails (e.g. the folder became read-only); the
            // leftover is still only a hidden .tmp- file, never the final name.
            _ = unlink(temp)
            temporaryPath = nil
        }
    }

    deinit {
        abandon()
    }

    /// Closes open objects, then the file. Every step runs even after a failure; the first error
    /// (the earliest data loss) is thrown.
    private func closeEverything(_ operation: String) throws(H5Error) {
        var errors = deferredErrors
        deferredErrors.removeAll()
        for object in takeOpenObjects() {
            do throws(H5Error) { try object.handle.close() } catch { errors.append(error.within("close '\(object.path)'")) }
        }
        do throws(H5Error) { try closeFileID() } catch { errors.append(error) }
        if let first = errors.first { throw first.within(operation) }
    }

    /// Closes the file identifier. HDF5 1.10 frees a file's state when H5Fclose fails but keeps
    /// the identifier, and its own shutdown at exit then crashes on the freed memory (HDFFV-11052,
    /// h5py issue 914). So a writable file is closed only after a successful flush, which leaves
    /// H5Fclose next to nothing to write; if the flush fails the file is quarantined instead.
    private func closeFileID() throws(H5Error) {
        guard handle.isOpen else { return }
        if !isReadOnly {
            let id = handle.id
            do throws(H5Error) {
                try H5Call.status("flush") { H5Fflush(id, H5F_SCOPE_GLOBAL) }
            } catch {
                quarantine()
                throw error
            }
        }
        try handle.close()
    }

    /// Deliberately leaves a file that cannot be flushed open until the process exits.
    /// The descriptor must stay open: HDF5 recognises an open file by its inode, and a freed inode
    /// reused by a later file would make that file "already open". An atomic file's temporary
    /// file is emptied instead, so its disk space is released now.
    ///
    /// HDF5's own shutdown at exit retries the close, and after a write failed part-way through
    /// (a full disk while closing datasets) libhdf5 1.10 dereferences a null pointer there
    /// (H5F__close_cb), turning a clean error into a segfault. So once a file is quarantined the
    /// process leaves without that shutdown (see `skipLibraryShutdown`).
    private func quarantine() {
        _ = Self.skipLibraryShutdown
        let id = handle.id
        handle.forget()
        guard temporaryPath != nil,
              let fapl = try? H5Call.handle(.propertyList, "get file access list", { H5Fget_access_plist(id) }),
              let driver = try? H5Call.borrowed("get file driver", { H5Pget_driver(fapl.id) }),
              let sec2 = try? H5Call.borrowed("look up sec2 driver", { bp_H5FD_SEC2() }),
              driver == sec2  // Only sec2's handle is a plain file descriptor.
        else { return }
        var raw: UnsafeMutableRawPointer? = nil
        guard (try? H5Call.status("get file descriptor", { H5Fget_vfd_handle(id, fapl.id, &raw) })) != nil,
              let raw
        else { return }
        // If truncation fails the space is only released at exit; nothing else depends on it.
        _ = ftruncate(raw.load(as: Int32.self), 0)
    }

    /// Registered once, after libhdf5's own exit handler (HDF5 registers it when it starts, before
    /// any file exists), so it runs first: it flushes stdio and ends the process with the same
    /// status, and HDF5's shutdown never runs. Files still open then lose nothing they could keep:
    /// biasprobe commits or abandons its files before exiting, and the quarantined one is unwritable.
    private static let skipLibraryShutdown: Void = {
        _ = on_exit({ status, _ in
            fflush(nil)
            // _exit also skips the coverage runtime's dump, registered before this handler.
            bp_write_coverage_profile()
            _exit(status)
        }, nil)
    }()

    private func syncToDisk(_ path: String, _ operation: String) throws(H5Error) {
        let fd = posixOpen(path, O_RDONLY)
        guard fd >= 0 else { throw H5Error(operation: operation, message: "reopen '\(path)' to sync: \(lastOSError())") }
        defer { _ = posixClose(fd) }  // Read-only descriptor: close cannot lose data.
        guard fsync(fd) == 0 else { throw H5Error(operation: operation, message: "fsync '\(path)': \(lastOSError())") }
    }

    // MARK: Open-object bookkeeping

    func register(_ object: H5Object) {
        // Drop entries for objects already gone, so a long append loop does not grow the list.
        if openObjects.count >= 64 && openObjects.count.isPowerOfTwo {
            openObjects.removeAll { $0.object == nil }
        }
        openObjects.append(WeakObject(object: object))
    }

    func recordDeferredError(_ error: H5Error) {
        deferredErrors.append(error)
    }

    private func takeOpenObjects() -> [H5Object] {
        let live = openObjects.compactMap(\.object)
        openObjects.removeAll()
        return live
    }

    private struct WeakObject {
        weak var object: H5Object?
    }

    static func splitPath(_ path: String) -> (folder: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let folder = String(path[..<slash])
        return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
    }
}

// Inside H5File, `open`/`close` name its own methods; these reach the POSIX calls.
private func posixOpen(_ path: String, _ flags: Int32) -> Int32 { open(path, flags) }
private func posixClose(_ fd: Int32) -> Int32 { close(fd) }

func lastOSError() -> String {
    let code = errno
    return "\(String(cString: strerror(code))) (errno \(code))"
}

extension H5Error {
    /// The same error seen from an enclosing operation: "commit 'x.h5': close '/d': write failed: ...".
    func within(_ outer: String) -> H5Error {
        H5Error(operation: outer, message: "\(operation): \(message)", stack: stack)
    }
}

extension Int {
    fileprivate var isPowerOfTwo: Bool { self > 0 && (self & (self - 1)) == 0 }
}
