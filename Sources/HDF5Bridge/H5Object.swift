import CHDF5

/// Something in an HDF5 file that can carry attributes: the file (its root group), a group or a
/// dataset. Objects keep their file alive; closing or committing the file closes them, after which
/// using them throws.
///
/// Not Sendable: HDF5 objects carry mutable state (open identifiers, the file's list of open
/// objects) that is not synchronised. Use each file and its objects from one task or thread.
public class H5Object {
    /// The path inside the file, "/" for the root.
    public let path: String
    let handle: H5Handle
    /// The file that owns this object; nil only for the file itself (which would otherwise keep
    /// itself alive).
    private let owner: H5File?

    init(handle: H5Handle, path: String, owner: H5File?) {
        self.handle = handle
        self.path = path
        self.owner = owner
        owner?.register(self)
    }

    /// The file this object lives in.
    public var file: H5File {
        // Only H5File passes a nil owner, so the cast cannot fail.
        owner ?? (self as! H5File)
    }

    /// Whether the object can still be used (its file has not been closed or committed).
    public var isOpen: Bool { handle.isOpen }

    /// Closes the object now rather than when it is dropped, so that a failure to write cached
    /// data (e.g. a full disk) is thrown here. Using the object afterwards throws.
    public func close() throws(H5Error) {
        do throws(H5Error) { try handle.close() } catch { throw error.within("close '\(path)'") }
    }

    /// The identifier for a C call, or an error naming the object if it was closed.
    func openID(_ operation: @autoclosure () -> String) throws(H5Error) -> hid_t {
        guard handle.isOpen else {
            throw H5Error(operation: operation(), message: "'\(path)' in \(file.filePath) is closed")
        }
        return handle.id
    }

    /// Like `openID`, for operations that modify the file. HDF5 itself would let a read-only
    /// handle write when the same file is also open for writing elsewhere in the process.
    func writableID(_ operation: @autoclosure () -> String) throws(H5Error) -> hid_t {
        let id = try openID(operation())
        guard !file.isReadOnly else {
            throw H5Error(operation: operation(), message: "\(file.filePath) is open read-only")
        }
        return id
    }

    /// Joins a path given relative to this object onto its own path, for messages and new objects.
    func childPath(_ relative: String) -> String {
        if relative.hasPrefix("/") { return relative }
        return path == "/" ? "/" + relative : path + "/" + relative
    }

    deinit {
        // Closing a dataset can flush cached chunks and so fail (e.g. disk full). A deinit cannot
        // throw, so hand the error to the file, whose flush/close/commit reports it.
        do throws(H5Error) { try handle.close() } catch { owner?.recordDeferredError(error.within("close '\(path)'")) }
    }
}
