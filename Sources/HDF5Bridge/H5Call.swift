import CHDF5
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every libhdf5 call goes through here: it silences HDF5's stderr printing for the calling thread,
/// runs the call and turns a failure into an `H5Error` built from the error stack.
enum H5Call {
    /// Debian's libhdf5 is built thread-safe, so the error stack and its "auto print" setting are
    /// per thread. A pthread key records which threads we already silenced.
    private static let quietKey: pthread_key_t? = {
        var key = pthread_key_t()
        return pthread_key_create(&key, nil) == 0 ? key : nil
    }()

    /// Turns off HDF5's automatic error printing on this thread (once per thread).
    static func silenceThread() {
        guard let key = quietKey else {
            _ = H5Eset_auto2(bp_H5E_DEFAULT(), nil, nil)  // No key: silence on every call instead.
            return
        }
        if pthread_getspecific(key) != nil { return }
        // If this fails HDF5 will merely print to stderr; retry on the next call.
        if H5Eset_auto2(bp_H5E_DEFAULT(), nil, nil) >= 0 {
            _ = pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1))
        }
    }

    /// Calls that return `herr_t` (negative = failure).
    static func status(_ operation: @autoclosure () -> String, _ body: () -> herr_t) throws(H5Error) {
        silenceThread()
        if body() < 0 { throw H5Error.fromStack(operation: operation()) }
    }

    /// Calls that return `htri_t` (negative = failure, 0 = false, positive = true).
    static func truth(_ operation: @autoclosure () -> String, _ body: () -> htri_t) throws(H5Error) -> Bool {
        silenceThread()
        let r = body()
        if r < 0 { throw H5Error.fromStack(operation: operation()) }
        return r > 0
    }

    /// Calls that return a signed count or size (`ssize_t`, `int`; negative = failure).
    static func count<N: SignedInteger>(_ operation: @autoclosure () -> String, _ body: () -> N) throws(H5Error) -> N {
        silenceThread()
        let r = body()
        if r < 0 { throw H5Error.fromStack(operation: operation()) }
        return r
    }

    /// Calls whose failure value is specific (`H5T_NO_CLASS`, a size of 0, ...).
    static func value<R>(_ operation: @autoclosure () -> String, failsIf isFailure: (R) -> Bool,
                         _ body: () -> R) throws(H5Error) -> R {
        silenceThread()
        let r = body()
        if isFailure(r) { throw H5Error.fromStack(operation: operation()) }
        return r
    }

    /// Calls that create an identifier; the result is owned by the returned handle at once.
    static func handle(_ kind: H5Handle.Kind, _ operation: @autoclosure () -> String,
                       _ body: () -> hid_t) throws(H5Error) -> H5Handle {
        silenceThread()
        let id = body()
        if id < 0 { throw H5Error.fromStack(operation: operation()) }
        return H5Handle(id, kind)
    }

    /// Calls that return a non-owned identifier (predefined types such as `H5T_NATIVE_FLOAT`).
    static func borrowed(_ operation: @autoclosure () -> String, _ body: () -> hid_t) throws(H5Error) -> hid_t {
        silenceThread()
        let id = body()
        if id < 0 { throw H5Error.fromStack(operation: operation()) }
        return id
    }
}
