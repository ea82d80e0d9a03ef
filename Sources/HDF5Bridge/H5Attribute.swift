import CHDF5

/// An attribute value: a scalar or a 1-D array of text, 64-bit integers or doubles.
/// Scalars are stored with a scalar dataspace (h5py reads them as plain Python values).
public enum H5AttributeValue: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case double(Double)
    case strings([String])
    case ints([Int64])
    case doubles([Double])

    public var stringValue: String? { if case .string(let v) = self { v } else { nil } }
    public var intValue: Int64? { if case .int(let v) = self { v } else { nil } }
    public var doubleValue: Double? { if case .double(let v) = self { v } else { nil } }
    public var stringsValue: [String]? { if case .strings(let v) = self { v } else { nil } }
    public var intsValue: [Int64]? { if case .ints(let v) = self { v } else { nil } }
    public var doublesValue: [Double]? { if case .doubles(let v) = self { v } else { nil } }
}

extension H5Object {
    /// Sets (or replaces) an attribute.
    public func setAttribute(_ name: String, _ value: H5AttributeValue) throws(H5Error) {
        switch value {
        case .string(let v): try writeAttribute(name, [v], shape: [], .string)
        case .int(let v): try writeAttribute(name, [v], shape: [], .int64)
        case .double(let v): try writeAttribute(name, [v], shape: [], .float64)
        case .strings(let v): try writeAttribute(name, v, shape: [v.count], .string)
        case .ints(let v): try writeAttribute(name, v, shape: [v.count], .int64)
        case .doubles(let v): try writeAttribute(name, v, shape: [v.count], .float64)
        }
    }

    public func setAttribute(_ name: String, _ value: String) throws(H5Error) { try setAttribute(name, .string(value)) }
    public func setAttribute(_ name: String, _ value: Int64) throws(H5Error) { try setAttribute(name, .int(value)) }
    public func setAttribute(_ name: String, _ value: Int) throws(H5Error) { try setAttribute(name, .int(Int64(value))) }
    public func setAttribute(_ name: String, _ value: Double) throws(H5Error) { try setAttribute(name, .double(value)) }
    public func setAttribute(_ name: String, _ value: [String]) throws(H5Error) { try setAttribute(name, .strings(value)) }
    public func setAttribute(_ name: String, _ value: [Int64]) throws(H5Error) { try setAttribute(name, .ints(value)) }
    public func setAttribute(_ name: String, _ value: [Double]) throws(H5Error) { try setAttribute(name, .doubles(value)) }

    /// Reads an attribute. Integers of any width come back as `.int`/`.ints`, floats as
    /// `.double`/`.doubles`; a multi-dimensional attribute comes back flattened.
    public func attribute(_ name: String) throws(H5Error) -> H5AttributeValue {
        let operation = "read attribute '\(name)' of '\(path)'"
        let id = try openID(operation)
        guard try H5Call.truth(operation, { H5Aexists(id, name) }) else {
            throw H5Error(operation: operation, message: "no such attribute")
        }
        let attr = try H5Call.handle(.attribute, operation) { H5Aopen(id, name, bp_H5P_DEFAULT()) }
        let space = try H5Call.handle(.dataspace, operation) { H5Aget_space(attr.id) }
        let (shape, _) = try H5Space.extent(space)
        let count = try H5Space.elementCount(shape, operation)
        let storedType = try H5Call.handle(.datatype, operation) { H5Aget_type(attr.id) }
        let cls = try H5Call.value(operation, failsIf: { $0 == H5T_NO_CLASS }) { H5Tget_class(storedType.id) }
        let scalar = shape.isEmpty

        switch cls {
        case H5T_STRING:
            let v: [String] = try readAttribute(attr, count: count, .string, memType: storedType, operation)
            return scalar ? .string(v.first ?? "") : .strings(v)
        case H5T_INTEGER:
            let v: [Int64] = try readAttribute(attr, count: count, .int64, memType: H5Type.make(.int64), operation)
            return scalar ? .int(v.first ?? 0) : .ints(v)
        case H5T_FLOAT:
            let v: [Double] = try readAttribute(attr, count: count, .float64, memType: H5Type.make(.float64), operation)
            return scalar ? .double(v.first ?? 0) : .doubles(v)
        default:
            throw H5Error(operation: operation, message: "attribute type is not text, integer or float")
        }
    }

    /// Whether the attribute exists.
    public func hasAttribute(_ name: String) throws(H5Error) -> Bool {
        let operation = "look up attribute '\(name)' of '\(path)'"
        let id = try openID(operation)
        return try H5Call.truth(operation) { H5Aexists(id, name) }
    }

    /// Names of all attributes, in name order. Includes the bookkeeping attributes HDF5's
    /// dimension-scale API adds (CLASS, NAME, DIMENSION_LIST, DIMENSION_LABELS, REFERENCE_LIST).
    public func attributeNames() throws(H5Error) -> [String] {
        let operation = "list attributes of '\(path)'"
        let id = try openID(operation)
        var names: [String] = []
        try H5Call.status(operation) {
            withUnsafeMutablePointer(to: &names) { namesPtr in
                H5Aiterate2(id, H5_INDEX_NAME, H5_ITER_INC, nil, { _, name, _, data in
                    guard let name, let data else { return -1 }
                    data.assumingMemoryBound(to: [String].self).pointee.append(String(cString: name))
                    return 0
                }, namesPtr)
            }
        }
        return names
    }

    /// Deletes an attribute; does nothing if it does not exist.
    public func deleteAttribute(_ name: String) throws(H5Error) {
        let operation = "delete attribute '\(name)' of '\(path)'"
        let id = try writableID(operation)
        if try H5Call.truth(operation, { H5Aexists(id, name) }) {
            try H5Call.status(operation) { H5Adelete(id, name) }
        }
    }

    private func writeAttribute<T>(_ name: String, _ values: [T], shape: [Int], _ element: H5ElementType) throws(H5Error) {
        let operation = "write attribute '\(name)' of '\(path)'"
        let id = try writableID(operation)
        try deleteAttribute(name)  // H5Acreate2 refuses an existing name.
        let type = try H5Type.make(element)
        let space = try H5Space.create(shape)
        let attr = try H5Call.handle(.attribute, operation) {
            H5Acreate2(id, name, type.id, space.id, bp_H5P_DEFAULT(), bp_H5P_DEFAULT())
        }
        try H5ElementIO.write(values, as: element, operation) { buffer in H5Awrite(attr.id, type.id, buffer) }
        try attr.close()
    }

    private func readAttribute<T>(_ attr: H5Handle, count: Int, _ element: H5ElementType, memType: H5Handle,
                                  _ operation: String) throws(H5Error) -> [T] {
        try H5ElementIO.read(count: count, as: element, memType: memType, operation) { buffer in
            H5Aread(attr.id, memType.id, buffer)
        }
    }
}
