import CHDF5

/// Named axes. Labels (`H5DSset_label`) are what h5py shows as `dset.dims[i].label`; dimension
/// scales (1-D coordinate datasets, `H5DSset_scale` + `H5DSattach_scale`) are what netCDF-4 and
/// xarray use to name a dimension and give it coordinates.
extension H5Dataset {
    /// Labels every dimension, outermost first; `labels.count` must equal the rank.
    public func setDimensionLabels(_ labels: [String]) throws(H5Error) {
        let operation = "label dimensions of '\(path)'"
        let rank = try shape().count
        guard labels.count == rank else {
            throw H5Error(operation: operation, message: "\(labels.count) labels for rank \(rank)")
        }
        for (i, label) in labels.enumerated() { try setDimensionLabel(label, dimension: i) }
    }

    /// Labels one dimension.
    public func setDimensionLabel(_ label: String, dimension: Int) throws(H5Error) {
        let operation = "label dimension \(dimension) of '\(path)' as '\(label)'"
        let id = try writableID(operation)
        try checkDimension(dimension, operation)
        try H5Call.status(operation) { H5DSset_label(id, UInt32(dimension), label) }
    }

    /// The label of each dimension, nil where none is set.
    public func dimensionLabels() throws(H5Error) -> [String?] {
        let operation = "read dimension labels of '\(path)'"
        let id = try openID(operation)
        let rank = try shape().count
        return try (0..<rank).map { (i: Int) throws(H5Error) -> String? in
            let length = try H5Call.count(operation) { H5DSget_label(id, UInt32(i), nil, 0) }
            if length == 0 { return nil }
            var buffer = [CChar](repeating: 0, count: length + 1)
            _ = try H5Call.count(operation) { H5DSget_label(id, UInt32(i), &buffer, buffer.count) }
            return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// Marks this (1-D) dataset as a dimension scale called `name` (netCDF's dimension name).
    public func makeDimensionScale(name: String) throws(H5Error) {
        let operation = "make '\(path)' a dimension scale named '\(name)'"
        let id = try writableID(operation)
        guard try shape().count == 1 else {
            throw H5Error(operation: operation, message: "a dimension scale must be 1-D")
        }
        try H5Call.status(operation) { H5DSset_scale(id, name) }
    }

    /// Whether this dataset is a dimension scale.
    public func isDimensionScale() throws(H5Error) -> Bool {
        let operation = "check whether '\(path)' is a dimension scale"
        let id = try openID(operation)
        return try H5Call.truth(operation) { H5DSis_scale(id) }
    }

    /// Attaches `scale` (made with `makeDimensionScale`) to dimension `dimension` of this dataset.
    public func attachScale(_ scale: H5Dataset, dimension: Int) throws(H5Error) {
        let operation = "attach scale '\(scale.path)' to dimension \(dimension) of '\(path)'"
        let id = try writableID(operation)
        let scaleID = try scale.openID(operation)
        try checkDimension(dimension, operation)
        guard try scale.isDimensionScale() else {
            throw H5Error(operation: operation, message: "'\(scale.path)' is not a dimension scale (call makeDimensionScale first)")
        }
        try H5Call.status(operation) { H5DSattach_scale(id, scaleID, UInt32(dimension)) }
    }

    /// How many scales are attached to a dimension.
    public func attachedScaleCount(dimension: Int) throws(H5Error) -> Int {
        let operation = "count scales on dimension \(dimension) of '\(path)'"
        let id = try openID(operation)
        try checkDimension(dimension, operation)
        return Int(try H5Call.count(operation) { H5DSget_num_scales(id, UInt32(dimension)) })
    }

    private func checkDimension(_ dimension: Int, _ operation: String) throws(H5Error) {
        let rank = try shape().count
        guard (0..<rank).contains(dimension) else {
            throw H5Error(operation: operation, message: "dimension \(dimension) is out of range for rank \(rank)")
        }
    }
}

extension H5Group {
    /// Writes a 1-D coordinate dataset and makes it a dimension scale named `name` (default: the
    /// last path component), ready for `attachScale`, e.g. `band` = ["sink", "middle", "recent"].
    @discardableResult
    public func writeDimensionScale<T: H5Element>(_ path: String, _ values: [T], name: String? = nil) throws(H5Error) -> H5Dataset {
        let scale = try writeDataset(path, values)
        let defaultName = path.split(separator: "/").last.map(String.init) ?? path
        try scale.makeDimensionScale(name: name ?? defaultName)
        return scale
    }
}
