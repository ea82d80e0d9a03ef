import CHDF5

/// Counts for leak checks in tests and debugging: compare two readings.
public enum H5Diagnostics {
    /// Identifiers this module holds open now: files, groups, datasets and the temporaries
    /// (dataspaces, types, property lists, attributes) an operation uses.
    public static var openHandleCount: Int { H5Handle.live.current }

    /// Objects libhdf5 itself has open across all files: files, groups, datasets, named types and
    /// attributes (HDF5 offers no count of dataspaces or property lists).
    public static func openObjectCount() throws(H5Error) -> Int {
        let all = bp_H5F_OBJ_ALL()
        return Int(try H5Call.count("count open HDF5 objects") { H5Fget_obj_count(hid_t(all), all) })
    }
}
