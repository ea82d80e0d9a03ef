import CHDF5
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns one HDF5 identifier and closes it exactly once: explicitly through `close()`, or in
/// `deinit`. Temporaries (dataspaces, types, property lists, attributes) live in local `let`s and
/// are read only inside `H5Call` closures, which keeps them alive for the whole C call.
///
/// Not Sendable: a handle belongs to the object (file, group, dataset) or function that made it.
final class H5Handle {
    enum Kind {
        case file, group, dataset, dataspace, datatype, propertyList, attribute
        /// Opened with H5Oopen when the type is not known in advance.
        case object
    }

    let kind: Kind
    private var raw: hid_t

    init(_ id: hid_t, _ kind: Kind) {
        self.raw = id
        self.kind = kind
        H5Handle.live.add(1)
    }

    /// Handles currently open in this process (for leak checks).
    static let live = Counter()

    var isOpen: Bool { raw >= 0 }

    /// The identifier, for use inside a C call. Only valid while the handle is open.
    var id: hid_t { raw }

    /// Closes the identifier; later calls do nothing. Throws if HDF5 reports a failure (for files
    /// and datasets that can be a failed flush, e.g. a full disk). The handle counts as closed
    /// either way, so the identifier is never closed twice.
    func close() throws(H5Error) {
        guard raw >= 0 else { return }
        let id = raw
        raw = -1
        H5Handle.live.add(-1)
        let kind = self.kind
        try H5Call.status("close \(kind)") {
            switch kind {
            case .file: H5Fclose(id)
            case .group: H5Gclose(id)
            case .dataset: H5Dclose(id)
            case .dataspace: H5Sclose(id)
            case .datatype: H5Tclose(id)
            case .propertyList: H5Pclose(id)
            case .attribute: H5Aclose(id)
            case .object: H5Oclose(id)
            }
        }
    }

    /// Gives up ownership without closing: only for a file HDF5 cannot close safely (see
    /// `H5File.quarantine`). The identifier stays open until the process exits.
    func forget() {
        guard raw >= 0 else { return }
        raw = -1
        H5Handle.live.add(-1)
    }

    deinit {
        // A deinit cannot throw. Objects that can lose data on close (files, datasets) are closed
        // explicitly by their owners, which keep the error; here a failure can only be ignored.
        try? close()
    }
}

extension H5Handle {
    /// A thread-safe count. `@unchecked Sendable` because `value` is only read or written while
    /// `mutex` is held; handles are made and dropped on whatever threads their owners use.
    final class Counter: @unchecked Sendable {
        private let mutex: UnsafeMutablePointer<pthread_mutex_t>
        private var value = 0

        init() {
            mutex = .allocate(capacity: 1)
            mutex.initialize(to: pthread_mutex_t())
            // Default attributes cannot fail to initialise on Linux; a failure would show as a
            // crash on first lock rather than a silent miscount.
            precondition(pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init failed")
        }

        func add(_ delta: Int) {
            pthread_mutex_lock(mutex)
            value += delta
            pthread_mutex_unlock(mutex)
        }

        var current: Int {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            return value
        }
    }
}
