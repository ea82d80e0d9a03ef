import CHDF5

/// Moves arrays of elements between Swift and the buffers `H5Dwrite`/`H5Awrite`/`H5Dread`/`H5Aread`
/// expect. Shared by datasets and attributes so strings are handled in one place.
enum H5ElementIO {
    /// Hands `call` a buffer holding `values` in memory layout: the array's own bytes for numbers,
    /// an array of `char *` for strings. `call` is the C write; its status is checked here.
    static func write<T>(_ values: [T], as element: H5ElementType, _ operation: @autoclosure () -> String,
                         _ call: (UnsafeRawPointer) -> herr_t) throws(H5Error) {
        var status: herr_t = 0
        H5Call.silenceThread()
        if element == .string {
            guard let strings = values as? [String] else {
                throw H5Error(operation: operation(), message: "elements of type \(T.self) are not strings")
            }
            if let bad = strings.firstIndex(where: { $0.utf8.contains(0) }) {
                throw H5Error(operation: operation(), message: "string #\(bad) contains a NUL byte, which HDF5 strings cannot hold")
            }
            status = withCStringPointers(strings) { call($0) }
        } else {
            status = values.withUnsafeBytes { bytes in
                // An empty array may have no storage; HDF5 rejects a NULL buffer even for 0 elements.
                var dummy: UInt64 = 0
                return bytes.baseAddress.map(call) ?? call(&dummy)
            }
        }
        if status < 0 { throw H5Error.fromStack(operation: operation()) }
    }

    /// Reads `count` elements through `call` (the C read into the given buffer). `memType` must be
    /// the memory type handed to the C read; for variable-length strings HDF5 allocates each string
    /// and we release them with `H5Dvlen_reclaim`, which also needs that type.
    static func read<T>(count: Int, as element: H5ElementType, memType: H5Handle,
                        _ operation: @autoclosure () -> String,
                        _ call: (UnsafeMutableRawPointer) -> herr_t) throws(H5Error) -> [T] {
        if element == .string {
            let strings = try readStrings(count: count, memType: memType, operation(), call)
            guard let typed = strings as? [T] else {
                throw H5Error(operation: operation(), message: "elements of type \(T.self) are not strings")
            }
            return typed
        }
        guard count > 0 else { return [] }
        var status: herr_t = 0
        H5Call.silenceThread()
        // Only reached for the five numeric element types, so leaving the memory unset on failure
        // is harmless: there is nothing to deinitialise and the array is discarded when we throw.
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            status = call(UnsafeMutableRawPointer(buffer.baseAddress!))
            initialized = count
        }
        if status < 0 { throw H5Error.fromStack(operation: operation()) }
        return values
    }

    private static func readStrings(count: Int, memType: H5Handle, _ operation: @autoclosure () -> String,
                                    _ call: (UnsafeMutableRawPointer) -> herr_t) throws(H5Error) -> [String] {
        guard count > 0 else { return [] }
        let variable = try H5Call.truth("check string type") { H5Tis_variable_str(memType.id) }
        if variable {
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            H5Call.silenceThread()
            let status = pointers.withUnsafeMutableBytes { call($0.baseAddress!) }
            if status < 0 {
                let error = H5Error.fromStack(operation: operation())
                try? reclaim(&pointers, memType: memType)  // Free whatever a partial read allocated.
                throw error
            }
            let strings = pointers.map { $0.map { String(cString: $0) } ?? "" }
            try reclaim(&pointers, memType: memType)
            return strings
        }
        // Fixed-length strings (written by other tools): `size` bytes a slot, padded with NULs or spaces.
        let size = try H5Call.value("get string size", failsIf: { $0 == 0 }) { H5Tget_size(memType.id) }
        let pad = try H5Call.value("get string padding", failsIf: { $0 == H5T_STR_ERROR }) { H5Tget_strpad(memType.id) }
        var bytes = [UInt8](repeating: 0, count: count * size)
        try H5Call.status(operation()) { bytes.withUnsafeMutableBytes { call($0.baseAddress!) } }
        return (0..<count).map { i in
            var slot = bytes[(i * size)..<((i + 1) * size)]
            if let nul = slot.firstIndex(of: 0) { slot = slot[..<nul] }
            if pad == H5T_STR_SPACEPAD { while slot.last == 0x20 { slot.removeLast() } }
            return String(decoding: slot, as: UTF8.self)
        }
    }

    /// Frees the strings HDF5 allocated for a variable-length read.
    private static func reclaim(_ pointers: inout [UnsafeMutablePointer<CChar>?], memType: H5Handle) throws(H5Error) {
        let space = try H5Space.create([pointers.count])
        try H5Call.status("free variable-length strings") {
            pointers.withUnsafeMutableBytes { H5Dvlen_reclaim(memType.id, space.id, bp_H5P_DEFAULT(), $0.baseAddress) }
        }
    }

    /// Packs the strings NUL-terminated into one buffer and passes `body` an array of pointers into it.
    private static func withCStringPointers<R>(_ strings: [String], _ body: (UnsafeRawPointer) -> R) -> R {
        var bytes: [CChar] = []
        var offsets: [Int] = []
        bytes.reserveCapacity(strings.reduce(0) { $0 + $1.utf8.count + 1 })
        for s in strings {
            offsets.append(bytes.count)
            bytes.append(contentsOf: s.utf8.map { CChar(bitPattern: $0) })
            bytes.append(0)
        }
        return bytes.withUnsafeBufferPointer { base in
            let pointers: [UnsafePointer<CChar>?] = offsets.map { base.baseAddress! + $0 }
            return pointers.withUnsafeBytes { raw in
                var dummy: UInt64 = 0
                return raw.baseAddress.map(body) ?? body(&dummy)
            }
        }
    }
}
