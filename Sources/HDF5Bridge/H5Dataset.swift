import CHDF5

/// What a dataset holds and how it is stored, read without touching its data.
public struct H5DatasetInfo: Sendable, Equatable {
    public var shape: [Int]
    /// Upper bound per dimension; nil where unlimited.
    public var maxShape: [Int?]
    /// nil if the stored type has no Swift counterpart here (compound, int16, ...).
    public var elementType: H5ElementType?
    /// nil for contiguous or compact storage.
    public var chunk: [Int]?
    public var deflateLevel: Int?
    public var shuffle: Bool
}

/// A dataset: an n-dimensional array of one element type, stored in C order.
public final class H5Dataset: H5Object {

    /// Shape, type and storage settings.
    public func info() throws(H5Error) -> H5DatasetInfo {
        let operation = "inspect dataset '\(path)'"
        let id = try openID(operation)
        let space = try H5Call.handle(.dataspace, operation) { H5Dget_space(id) }
        let (shape, maxShape) = try H5Space.extent(space)
        let type = try H5Call.handle(.datatype, operation) { H5Dget_type(id) }
        let dcpl = try H5Call.handle(.propertyList, operation) { H5Dget_create_plist(id) }
        var info = H5DatasetInfo(shape: shape, maxShape: maxShape, elementType: try H5Type.classify(type),
                                 chunk: nil, deflateLevel: nil, shuffle: false)
        let layout = try H5Call.value(operation, failsIf: { $0 == H5D_LAYOUT_ERROR }) { H5Pget_layout(dcpl.id) }
        guard layout == H5D_CHUNKED else { return info }
        var chunk = [hsize_t](repeating: 0, count: max(shape.count, 1))
        _ = try H5Call.count(operation) { H5Pget_chunk(dcpl.id, Int32(chunk.count), &chunk) }
        info.chunk = chunk.prefix(shape.count).map { Int($0) }
        let filters = try H5Call.count(operation) { H5Pget_nfilters(dcpl.id) }
        for i in 0..<UInt32(filters) {
            var flags: UInt32 = 0
            var values = [UInt32](repeating: 0, count: 8)
            var valueCount = values.count
            var config: UInt32 = 0
            let filter = try H5Call.count(operation) {
                H5Pget_filter2(dcpl.id, i, &flags, &valueCount, &values, 0, nil, &config)
            }
            if filter == H5Z_FILTER_DEFLATE { info.deflateLevel = valueCount > 0 ? Int(values[0]) : nil }
            if filter == H5Z_FILTER_SHUFFLE { info.shuffle = true }
        }
        return info
    }

    /// The current shape.
    public func shape() throws(H5Error) -> [Int] {
        let operation = "get shape of '\(path)'"
        let id = try openID(operation)
        let space = try H5Call.handle(.dataspace, operation) { H5Dget_space(id) }
        return try H5Space.extent(space).shape
    }

    /// Bytes the dataset's data take in the file (after compression); 0 when nothing was written.
    public func storageSize() throws(H5Error) -> Int {
        let id = try openID("get storage size of '\(path)'")
        H5Call.silenceThread()
        return Int(clamping: H5Dget_storage_size(id))
    }

    /// The stored element type, or nil if it has no Swift counterpart here.
    public func elementType() throws(H5Error) -> H5ElementType? {
        let operation = "get type of '\(path)'"
        let id = try openID(operation)
        let type = try H5Call.handle(.datatype, operation) { H5Dget_type(id) }
        return try H5Type.classify(type)
    }

    /// Overwrites the whole dataset; `values.count` must match its current shape.
    public func write<T: H5Element>(_ values: [T]) throws(H5Error) {
        let operation = "write '\(path)'"
        let id = try writableID(operation)
        let element = try checkedElement(T.self, id: id, operation)
        let space = try H5Call.handle(.dataspace, operation) { H5Dget_space(id) }
        let (shape, _) = try H5Space.extent(space)
        let count = try H5Space.elementCount(shape, operation)
        guard count == values.count else {
            throw H5Error(operation: operation, message: "shape \(shape) needs \(count) values, got \(values.count)")
        }
        if count == 0 { return }
        let memType = try H5Type.make(element)
        let all = bp_H5S_ALL()
        try H5ElementIO.write(values, as: element, operation) { buffer in
            H5Dwrite(id, memType.id, all, all, bp_H5P_DEFAULT(), buffer)
        }
    }

    /// Reads the whole dataset. `T` must match the stored type (see `elementType()`): no silent
    /// narrowing or widening.
    public func read<T: H5Element>(as type: T.Type = T.self) throws(H5Error) -> (values: [T], shape: [Int]) {
        let operation = "read '\(path)'"
        let id = try openID(operation)
        let element = try checkedElement(type, id: id, operation)
        let space = try H5Call.handle(.dataspace, operation) { H5Dget_space(id) }
        let (shape, _) = try H5Space.extent(space)
        let count = try H5Space.elementCount(shape, operation)
        // Strings are read with the stored type (variable or fixed length, any character set);
        // numbers with the native type, so HDF5 converts byte order if needed.
        let memType = element == .string
            ? try H5Call.handle(.datatype, operation) { H5Dget_type(id) }
            : try H5Type.make(element)
        let all = bp_H5S_ALL()
        let values: [T] = try H5ElementIO.read(count: count, as: element, memType: memType, operation) { buffer in
            H5Dread(id, memType.id, all, all, bp_H5P_DEFAULT(), buffer)
        }
        return (values, shape)
    }

    /// Grows an extendible dataset along its first dimension and writes `values` as the new rows.
    /// `values.count` must be a whole number of rows (a row is the product of the other dimensions).
    public func append<T: H5Element>(rows values: [T]) throws(H5Error) {
        let operation = "append to '\(path)'"
        let id = try writableID(operation)
        let element = try checkedElement(T.self, id: id, operation)
        let oldSpace = try H5Call.handle(.dataspace, operation) { H5Dget_space(id) }
        let (shape, maxShape) = try H5Space.extent(oldSpace)
        guard let first = maxShape.first, first == nil else {
            throw H5Error(operation: operation, message: "dataset is not extendible (create it with options.extendible)")
        }
        let rowShape = Array(shape.dropFirst())
        let rowSize = try H5Space.elementCount(rowShape, operation)
        guard rowSize > 0 ? values.count % rowSize == 0 : values.isEmpty else {
            throw H5Error(operation: operation, message: "\(values.count) values are not whole rows of shape \(rowShape)")
        }
        let rows = rowSize == 0 ? 0 : values.count / rowSize
        if rows == 0 { return }

        let newDims = ([shape[0] + rows] + rowShape).map { hsize_t($0) }
        try H5Call.status(operation) { H5Dset_extent(id, newDims) }
        do throws(H5Error) {
            let fileSpace = try H5Call.handle(.dataspace, operation) { H5Dget_space(id) }
            let start = [hsize_t(shape[0])] + rowShape.map { _ in hsize_t(0) }
            let count = [hsize_t(rows)] + rowShape.map { hsize_t($0) }
            try H5Call.status(operation) {
                H5Sselect_hyperslab(fileSpace.id, H5S_SELECT_SET, start, nil, count, nil)
            }
            let memSpace = try H5Space.create([rows] + rowShape)
            let memType = try H5Type.make(element)
            try H5ElementIO.write(values, as: element, operation) { buffer in
                H5Dwrite(id, memType.id, memSpace.id, fileSpace.id, bp_H5P_DEFAULT(), buffer)
            }
        } catch {
            // Undo the growth so a failed append leaves no rows of fill values behind. If even
            // that fails the original error is still the one worth reporting.
            let oldDims = shape.map { hsize_t($0) }
            try? H5Call.status(operation) { H5Dset_extent(id, oldDims) }
            throw error
        }
    }

    /// The stored element type, if it is the one `type` maps to.
    private func checkedElement<T>(_ type: T.Type, id: hid_t, _ operation: String) throws(H5Error) -> H5ElementType {
        let wanted = try H5Type.element(type, operation)
        let storedType = try H5Call.handle(.datatype, operation) { H5Dget_type(id) }
        let stored = try H5Type.classify(storedType)
        guard stored == wanted else {
            throw H5Error(operation: operation, message: "dataset holds \(stored.map(\.description) ?? "an unsupported type"), not \(wanted)")
        }
        return wanted
    }
}
