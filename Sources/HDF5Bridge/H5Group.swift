import CHDF5

/// A group. Paths given to its methods are relative to it ("global/band_mass") or absolute
/// ("/global/band_mass"); creating a group or dataset creates missing intermediate groups.
public class H5Group: H5Object {

    // MARK: Groups

    /// Creates a group (and any missing parents). Fails if something already exists at `path`.
    public func createGroup(_ path: String) throws(H5Error) -> H5Group {
        let operation = "create group '\(childPath(path))'"
        let loc = try writableID(operation)
        let lcpl = try H5Group.linkCreationList()
        let h = try H5Call.handle(.group, operation) {
            H5Gcreate2(loc, path, lcpl.id, bp_H5P_DEFAULT(), bp_H5P_DEFAULT())
        }
        return H5Group(handle: h, path: childPath(path), owner: file)
    }

    /// Opens an existing group.
    public func openGroup(_ path: String) throws(H5Error) -> H5Group {
        let operation = "open group '\(childPath(path))'"
        let loc = try openID(operation)
        try requireKind(.group, at: path, operation)
        let h = try H5Call.handle(.group, operation) { H5Gopen2(loc, path, bp_H5P_DEFAULT()) }
        return H5Group(handle: h, path: childPath(path), owner: file)
    }

    /// Opens the group at `path`, creating it if it does not exist (h5py's `require_group`).
    public func requireGroup(_ path: String) throws(H5Error) -> H5Group {
        try kind(of: path) == nil ? createGroup(path) : openGroup(path)
    }

    /// Whether anything (group, dataset, ...) exists at `path`.
    public func exists(_ path: String) throws(H5Error) -> Bool {
        try kind(of: path) != nil
    }

    /// What `path` names, or nil if nothing does (including when a parent is missing or is not a
    /// group, and for dangling links).
    public func kind(of path: String) throws(H5Error) -> H5ObjectKind? {
        let operation = "look up '\(childPath(path))'"
        let loc = try openID(operation)
        // H5Lexists only tests the last link and fails if a parent is missing, so walk the prefixes.
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        if parts.isEmpty { return path.hasPrefix("/") ? .group : nil }
        var prefix = path.hasPrefix("/") ? "/" : ""
        var kind: H5ObjectKind? = nil
        for (i, part) in parts.enumerated() {
            prefix += (i == 0 ? "" : "/") + part
            let p = prefix
            guard try H5Call.truth(operation, { H5Lexists(loc, p, bp_H5P_DEFAULT()) }),
                  try H5Call.truth(operation, { H5Oexists_by_name(loc, p, bp_H5P_DEFAULT()) })
            else { return nil }
            kind = try objectKind(at: p, loc: loc, operation)
            if i < parts.count - 1 && kind != .group { return nil }
        }
        return kind
    }

    /// Names of the direct members, in name order.
    public func memberNames() throws(H5Error) -> [String] {
        let operation = "list members of '\(path)'"
        let loc = try openID(operation)
        var names: [String] = []
        try H5Call.status(operation) {
            withUnsafeMutablePointer(to: &names) { namesPtr in
                H5Literate(loc, H5_INDEX_NAME, H5_ITER_INC, nil, { _, name, _, data in
                    guard let name, let data else { return -1 }
                    data.assumingMemoryBound(to: [String].self).pointee.append(String(cString: name))
                    return 0
                }, namesPtr)
            }
        }
        return names
    }

    // MARK: Datasets

    /// Creates a dataset without writing data, e.g. an extendible one of shape `[0, n]` that
    /// `append(rows:)` fills. `dims` names the dimensions (see `setDimensionLabels`).
    public func createDataset<T: H5Element>(_ path: String, of type: T.Type, shape: [Int],
                                            options: H5DatasetOptions = .contiguous,
                                            dims: [String]? = nil) throws(H5Error) -> H5Dataset {
        let full = childPath(path)
        let operation = "create dataset '\(full)'"
        _ = try writableID(operation)
        let element = try H5Type.element(type, operation)
        _ = try H5Space.elementCount(shape, operation)
        if let dims, dims.count != shape.count {
            throw H5Error(operation: operation, message: "\(dims.count) dimension names for rank \(shape.count)")
        }
        let loc = try openID(operation)
        let fileType = try H5Type.make(element)
        let space = try H5Space.create(shape, unlimitedFirst: options.extendible)
        let dcpl = try options.creationList(shape: shape, element: element, operation)
        let lcpl = try H5Group.linkCreationList()
        let h = try H5Call.handle(.dataset, operation) {
            H5Dcreate2(loc, path, fileType.id, space.id, lcpl.id, dcpl.id, bp_H5P_DEFAULT())
        }
        let dataset = H5Dataset(handle: h, path: full, owner: file)
        if let dims { try dataset.setDimensionLabels(dims) }
        return dataset
    }

    /// Creates a dataset and writes `values` (C order) into it. `shape` defaults to 1-D
    /// `[values.count]`; pass `[]` for a scalar.
    @discardableResult
    public func writeDataset<T: H5Element>(_ path: String, _ values: [T], shape: [Int]? = nil,
                                           options: H5DatasetOptions = .contiguous,
                                           dims: [String]? = nil) throws(H5Error) -> H5Dataset {
        let shape = shape ?? [values.count]
        let operation = "write dataset '\(childPath(path))'"
        let count = try H5Space.elementCount(shape, operation)
        guard count == values.count else {
            throw H5Error(operation: operation, message: "shape \(shape) needs \(count) values, got \(values.count)")
        }
        let dataset = try createDataset(path, of: T.self, shape: shape, options: options, dims: dims)
        try dataset.write(values)
        return dataset
    }

    /// Opens an existing dataset.
    public func openDataset(_ path: String) throws(H5Error) -> H5Dataset {
        let operation = "open dataset '\(childPath(path))'"
        let loc = try openID(operation)
        try requireKind(.dataset, at: path, operation)
        let h = try H5Call.handle(.dataset, operation) { H5Dopen2(loc, path, bp_H5P_DEFAULT()) }
        return H5Dataset(handle: h, path: childPath(path), owner: file)
    }

    /// Opens a dataset and reads all of it.
    public func readDataset<T: H5Element>(_ path: String, as type: T.Type = T.self) throws(H5Error) -> (values: [T], shape: [Int]) {
        try openDataset(path).read(as: type)
    }

    // MARK: Helpers

    /// Link creation settings that make missing parent groups on the way.
    static func linkCreationList() throws(H5Error) -> H5Handle {
        let cls = try H5Call.borrowed("look up link creation class") { bp_H5P_LINK_CREATE() }
        let lcpl = try H5Call.handle(.propertyList, "create link creation list") { H5Pcreate(cls) }
        try H5Call.status("enable intermediate groups") { H5Pset_create_intermediate_group(lcpl.id, 1) }
        return lcpl
    }

    /// Throws a clear "no dataset at ..." instead of HDF5's traversal messages.
    private func requireKind(_ wanted: H5ObjectKind, at path: String, _ operation: String) throws(H5Error) {
        guard let found = try kind(of: path) else {
            throw H5Error(operation: operation, message: "nothing named '\(path)' in \(self.path) of \(file.filePath)")
        }
        guard found == wanted else {
            throw H5Error(operation: operation, message: "'\(path)' is a \(found), not a \(wanted)")
        }
    }

    private func objectKind(at path: String, loc: hid_t, _ operation: String) throws(H5Error) -> H5ObjectKind {
        let object = try H5Call.handle(.object, operation) { H5Oopen(loc, path, bp_H5P_DEFAULT()) }
        let type = try H5Call.value(operation, failsIf: { $0 == H5I_BADID }) { H5Iget_type(object.id) }
        try object.close()
        switch type {
        case H5I_GROUP: return .group
        case H5I_DATASET: return .dataset
        case H5I_DATATYPE: return .namedDatatype
        default: return .other
        }
    }
}
