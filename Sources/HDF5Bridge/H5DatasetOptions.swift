import CHDF5

/// How a dataset is stored. Chunking is needed for compression and for growing; any of
/// `chunk`, `deflateLevel`, `shuffle` or `extendible` turns it on.
public struct H5DatasetOptions: Sendable, Equatable {
    /// Chunk shape (same rank as the dataset). nil picks about 256 KiB chunks when chunking is on.
    public var chunk: [Int]?
    /// zlib (deflate) level 0...9; nil stores uncompressed.
    public var deflateLevel: Int?
    /// Byte shuffle before deflate: groups the bytes of equal significance, which makes floats
    /// compress far better.
    public var shuffle: Bool
    /// Lets the first dimension grow without limit (`H5Dataset.append(rows:)`).
    public var extendible: Bool

    public init(chunk: [Int]? = nil, deflateLevel: Int? = nil, shuffle: Bool = false, extendible: Bool = false) {
        self.chunk = chunk
        self.deflateLevel = deflateLevel
        self.shuffle = shuffle
        self.extendible = extendible
    }

    /// Contiguous, uncompressed storage: the default, and fastest to write once.
    public static let contiguous = H5DatasetOptions()

    /// Shuffle + deflate at `level`, chunked.
    public static func compressed(level: Int = 4, chunk: [Int]? = nil, extendible: Bool = false) -> H5DatasetOptions {
        H5DatasetOptions(chunk: chunk, deflateLevel: level, shuffle: true, extendible: extendible)
    }

    var isChunked: Bool { chunk != nil || deflateLevel != nil || shuffle || extendible }

    /// The dataset creation property list for these options.
    func creationList(shape: [Int], element: H5ElementType, _ operation: String) throws(H5Error) -> H5Handle {
        let cls = try H5Call.borrowed("look up dataset creation class") { bp_H5P_DATASET_CREATE() }
        let dcpl = try H5Call.handle(.propertyList, "create dataset creation list") { H5Pcreate(cls) }
        guard isChunked else { return dcpl }
        guard !shape.isEmpty else {
            throw H5Error(operation: operation, message: "a scalar dataset cannot be chunked, compressed or extendible")
        }
        let chunk = chunk ?? Self.automaticChunk(shape: shape, elementSize: element.fileStride, extendible: extendible)
        guard chunk.count == shape.count, chunk.allSatisfy({ $0 > 0 }) else {
            throw H5Error(operation: operation, message: "chunk \(chunk) does not fit shape \(shape) (same rank, all > 0)")
        }
        let dims = chunk.map { hsize_t($0) }
        try H5Call.status("\(operation): set chunk \(chunk)") { H5Pset_chunk(dcpl.id, Int32(dims.count), dims) }
        if shuffle {
            try H5Call.status("\(operation): enable shuffle") { H5Pset_shuffle(dcpl.id) }
        }
        if let level = deflateLevel {
            guard (0...9).contains(level) else {
                throw H5Error(operation: operation, message: "deflate level \(level) is not in 0...9")
            }
            let available = try H5Call.truth("check deflate filter") { H5Zfilter_avail(H5Z_FILTER_DEFLATE) }
            guard available else { throw H5Error(operation: operation, message: "this libhdf5 has no deflate filter") }
            try H5Call.status("\(operation): enable deflate") { H5Pset_deflate(dcpl.id, UInt32(level)) }
        }
        return dcpl
    }

    /// Chunk of about `target` bytes: starts from the whole shape (or a very long first dimension
    /// when it will grow) and halves the largest dimension until it fits.
    static func automaticChunk(shape: [Int], elementSize: Int, extendible: Bool, target: Int = 256 << 10) -> [Int] {
        var chunk = shape.map { max($0, 1) }
        if extendible { chunk[0] = 1 << 20 }
        while chunk.reduce(elementSize, { $0.multipliedReportingOverflow(by: $1).overflow ? .max : $0 * $1 }) > target,
              let largest = chunk.indices.max(by: { chunk[$0] < chunk[$1] }), chunk[largest] > 1 {
            chunk[largest] = (chunk[largest] + 1) / 2
        }
        return chunk
    }
}

extension H5ElementType {
    /// Bytes per element in the file, for sizing chunks (a variable-length string is a 16-byte
    /// reference into the file's heap).
    var fileStride: Int { self == .string ? 16 : memoryStride }
}
