import CHDF5

/// Shapes and dataspaces. A shape is `[Int]` outermost first (C order, as numpy); `[]` is a scalar.
enum H5Space {
    /// HDF5's own limit on rank.
    static let maxRank = 32

    /// Checks a shape and returns its element count.
    static func elementCount(_ shape: [Int], _ operation: @autoclosure () -> String) throws(H5Error) -> Int {
        guard shape.count <= maxRank else {
            throw H5Error(operation: operation(), message: "rank \(shape.count) exceeds HDF5's limit of \(maxRank)")
        }
        var n = 1
        for d in shape {
            guard d >= 0 else { throw H5Error(operation: operation(), message: "negative dimension in shape \(shape)") }
            let (m, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow else { throw H5Error(operation: operation(), message: "shape \(shape) is too large") }
            n = m
        }
        return n
    }

    /// A scalar dataspace for `[]`, otherwise a simple one. With `unlimitedFirst` the first
    /// dimension may grow without bound (needs chunked storage).
    static func create(_ shape: [Int], unlimitedFirst: Bool = false) throws(H5Error) -> H5Handle {
        if shape.isEmpty {
            return try H5Call.handle(.dataspace, "create scalar dataspace") { H5Screate(H5S_SCALAR) }
        }
        let dims = shape.map { hsize_t($0) }
        var maxDims = dims
        if unlimitedFirst { maxDims[0] = bp_H5S_UNLIMITED() }
        return try H5Call.handle(.dataspace, "create dataspace of shape \(shape)") {
            H5Screate_simple(Int32(dims.count), dims, maxDims)
        }
    }

    /// The current and maximum shape of a dataspace; a maximum of nil means unlimited.
    /// A null dataspace (no elements at all) reads as shape `[0]`.
    static func extent(_ space: H5Handle) throws(H5Error) -> (shape: [Int], maxShape: [Int?]) {
        let cls = try H5Call.value("get dataspace class", failsIf: { $0 == H5S_NO_CLASS }) {
            H5Sget_simple_extent_type(space.id)
        }
        if cls == H5S_NULL { return ([0], [0]) }
        let rank = Int(try H5Call.count("get dataspace rank") { H5Sget_simple_extent_ndims(space.id) })
        if rank == 0 { return ([], []) }
        var dims = [hsize_t](repeating: 0, count: rank)
        var maxDims = [hsize_t](repeating: 0, count: rank)
        _ = try H5Call.count("get dataspace dimensions") { H5Sget_simple_extent_dims(space.id, &dims, &maxDims) }
        let unlimited = bp_H5S_UNLIMITED()
        return (dims.map { Int($0) }, maxDims.map { $0 == unlimited ? nil : Int($0) })
    }
}
