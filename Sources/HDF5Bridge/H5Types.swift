import CHDF5

/// The element types this module stores. Numbers are stored in the machine's native (little-endian)
/// layout; strings as variable-length UTF-8, which h5py and netCDF read as text.
public enum H5ElementType: String, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    case float32, float64, int32, int64, uint8, string

    public var description: String { rawValue }

    /// The element type of a Swift type, or nil if this module cannot store it.
    public init?<T>(_ type: T.Type) {
        switch type {
        case is Float.Type: self = .float32
        case is Double.Type: self = .float64
        case is Int32.Type: self = .int32
        case is Int64.Type: self = .int64
        case is UInt8.Type: self = .uint8
        case is String.Type: self = .string
        default: return nil
        }
    }

    /// Bytes per element in memory (for strings: one `char *`).
    var memoryStride: Int {
        switch self {
        case .float32, .int32: 4
        case .float64, .int64: 8
        case .uint8: 1
        case .string: MemoryLayout<UnsafePointer<CChar>>.stride
        }
    }
}

/// A Swift type that can be a dataset element: `Float`, `Double`, `Int32`, `Int64`, `UInt8` and
/// `String`. Other conformances are rejected at run time with an `H5Error`, because reading and
/// writing copy raw memory and only these layouts are known to match HDF5's.
public protocol H5Element: Sendable {}
extension Float: H5Element {}
extension Double: H5Element {}
extension Int32: H5Element {}
extension Int64: H5Element {}
extension UInt8: H5Element {}
extension String: H5Element {}

/// What a path in a file names.
public enum H5ObjectKind: Sendable, Equatable {
    case group, dataset, namedDatatype, other
}

enum H5Type {
    /// The element type a Swift type maps to, or a usage error naming the operation.
    static func element<T>(_ type: T.Type, _ operation: @autoclosure () -> String) throws(H5Error) -> H5ElementType {
        guard let e = H5ElementType(type) else {
            throw H5Error(operation: operation(), message: "unsupported element type \(type)")
        }
        return e
    }

    /// A fresh datatype for `element`, used both in memory and in the file. Returning an owned copy
    /// for numbers too keeps the callers uniform (every type they get must be closed).
    static func make(_ element: H5ElementType) throws(H5Error) -> H5Handle {
        if element == .string { return try variableString() }
        let native = try H5Call.borrowed("look up native type \(element)") {
            switch element {
            case .float32: bp_H5T_NATIVE_FLOAT()
            case .float64: bp_H5T_NATIVE_DOUBLE()
            case .int32: bp_H5T_NATIVE_INT32()
            case .int64: bp_H5T_NATIVE_INT64()
            case .uint8: bp_H5T_NATIVE_UINT8()
            case .string: -1  // Handled above.
            }
        }
        return try H5Call.handle(.datatype, "copy native type \(element)") { H5Tcopy(native) }
    }

    /// Variable-length, NUL-terminated UTF-8 strings (what h5py writes for `str`).
    static func variableString() throws(H5Error) -> H5Handle {
        let cS1 = try H5Call.borrowed("look up C string type") { bp_H5T_C_S1() }
        let t = try H5Call.handle(.datatype, "copy C string type") { H5Tcopy(cS1) }
        try H5Call.status("make string type variable-length") { H5Tset_size(t.id, bp_H5T_VARIABLE()) }
        try H5Call.status("set string type to UTF-8") { H5Tset_cset(t.id, H5T_CSET_UTF8) }
        return t
    }

    /// Classifies a stored datatype; nil for anything this module does not map to a Swift type
    /// (compound, enum, int16, big floats, ...).
    static func classify(_ type: H5Handle) throws(H5Error) -> H5ElementType? {
        let cls = try H5Call.value("get datatype class", failsIf: { $0 == H5T_NO_CLASS }) { H5Tget_class(type.id) }
        let size = try H5Call.value("get datatype size", failsIf: { $0 == 0 }) { H5Tget_size(type.id) }
        switch cls {
        case H5T_FLOAT:
            return size == 4 ? .float32 : size == 8 ? .float64 : nil
        case H5T_INTEGER:
            let sign = try H5Call.value("get integer sign", failsIf: { $0 == H5T_SGN_ERROR }) { H5Tget_sign(type.id) }
            switch (size, sign == H5T_SGN_NONE) {
            case (1, true): return .uint8
            case (4, false): return .int32
            case (8, false): return .int64
            default: return nil
            }
        case H5T_STRING:
            return .string
        default:
            return nil
        }
    }
}
