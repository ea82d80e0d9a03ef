import Foundation

/// Errors of the GGUF reader. Every message is one line and names the file's problem.
public struct GGUFError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ message: String) { description = message }
}

/// One tensor's entry in the GGUF tensor table.
public struct GGUFTensorInfo: Sendable {
    public let name: String
    /// GGUF order: ne[0] is the fastest-varying (row length), so a matrix is [in, out].
    public let dims: [Int]
    public let typeCode: UInt32
    public var type: GGMLType? { GGMLType(rawValue: typeCode) }
    /// Byte offset from the start of the data section.
    public let offset: Int
    public var elementCount: Int { dims.reduce(1, *) }
    /// Size in bytes, or nil when the type is unknown.
    public var byteCount: Int? {
        guard let g = type?.blockGeometry else { return nil }
        return elementCount / g.elements * g.bytes
    }
}

/// A memory-mapped GGUF v2/v3 file: metadata, tensor table, and raw tensor bytes.
/// Every read is bounds-checked against the file size, so truncated or hostile files give a
/// `GGUFError`, never a crash.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: Int
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order (for display).
    public let metadataKeys: [String]
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    public let dataOffset: Int
    public let fileSize: Int
    private let base: UnsafeRawPointer
    private let storage: Storage
    private var tensorIndex: [String: Int] = [:]

    /// Who owns the bytes at `base`: a file mapping, or a heap copy (`init(bytes:)`).
    private enum Storage { case mapped, heap }

    /// Maps the file at `path` and reads its header and tensor table.
    public convenience init(path: String) throws {
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait forever for a writer; the
        // fstat below then refuses it. (No effect on regular files, which mmap reads.)
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw GGUFError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw GGUFError("cannot stat \(path)") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw GGUFError("\(path) is not a regular file") }
        let size = Int(st.st_size)
        guard size >= 24 else { throw GGUFError("\(path) is not a GGUF file (only \(size) bytes)") }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw GGUFError("cannot map \(path): \(String(cString: strerror(errno)))")
        }
        try self.init(path: path, base: UnsafeRawPointer(p), size: size, storage: .mapped)
    }

    /// Reads a GGUF image held in memory (a copy is kept, so `bytes` may be discarded). `name`
    /// stands for the path in messages. Used by the fuzz targets: unlike a mapping, the copy
    /// lets AddressSanitizer see any read past the end.
    public convenience init(bytes: some Collection<UInt8>, name: String = "<memory>") throws {
        let size = bytes.count
        guard size >= 24 else { throw GGUFError("\(name) is not a GGUF file (only \(size) bytes)") }
        let p = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        p.copyBytes(from: bytes)
        try self.init(path: name, base: UnsafeRawPointer(p.baseAddress!), size: size, storage: .heap)
    }

    private static func release(_ base: UnsafeRawPointer, size: Int, _ storage: Storage) {
        switch storage {
        case .mapped: munmap(UnsafeMutableRawPointer(mutating: base), size)
        case .heap: UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }

    /// Parses `size` bytes at `base`, taking ownership of them (released on failure too).
    private init(path: String, base: UnsafeRawPointer, size: Int, storage: Storage) throws {
        self.path = path
        fileSize = size
        self.base = base
        self.storage = storage
        var r = ByteReader(base: base, size: size)
        do {
            let magic = try r.u32()
            guard magic == 0x4655_4747 else { throw GGUFError("\(path) is not a GGUF file (bad magic)") }
            let v = try r.u32()
            guard v == 2 || v == 3 else { throw GGUFError("\(path): GGUF version \(v) is not supported (2 and 3 are)") }
            version = Int(v)
            let nTensors = try r.count(minBytesEach: 24, what: "tensor count")
            let nKV = try r.count(minBytesEach: 12, what: "metadata count")
            var md: [String: GGUFValue] = [:]
            var keys: [String] = []
            keys.reserveCapacity(nKV)
            for _ in 0..<nKV {
                let key = try r.string()
                let t = try r.u32()
                let value = try r.value(type: t, depth: 0)
                // llama.cpp refuses a repeated key; accepting it would let the last copy win silently.
                guard md[key] == nil else { throw GGUFError("metadata key \(key) appears twice") }
                keys.append(key)
                md[key] = value
            }
            metadata = md
            metadataKeys = keys
            let align = md["general.alignment"]?.int ?? 32
            guard align > 0, align <= 1 << 20, align & (align - 1) == 0 else {
                throw GGUFError("\(path): general.alignment \(align) is not a power of two")
            }
            alignment = align
            var infos: [GGUFTensorInfo] = []
            var seenNames = Set<String>()
            infos.reserveCapacity(nTensors)
            for _ in 0..<nTensors {
                let name = try r.string()
                let nd = Int(try r.u32())
                guard (1...4).contains(nd) else { throw GGUFError("\(path): tensor \(name) has \(nd) dimensions") }
                var dims: [Int] = []
                var total = 1
                for _ in 0..<nd {
                    let d = try r.u64()
                    guard d > 0, d < 1 << 40 else { throw GGUFError("\(path): tensor \(name) has dimension \(d)") }
                    let (m, o) = total.multipliedReportingOverflow(by: Int(d))
                    guard !o, m < 1 << 42 else { throw GGUFError("\(path): tensor \(name) is impossibly large") }
                    total = m
                    dims.append(Int(d))
                }
                let type = try r.u32()
                let off = try r.u64()
                guard off < UInt64(size) else { throw GGUFError("\(path): tensor \(name) starts past the end of the file") }
                guard seenNames.insert(name).inserted else { throw GGUFError("tensor \(name) appears twice") }
                infos.append(GGUFTensorInfo(name: name, dims: dims, typeCode: type, offset: Int(off)))
            }
            tensors = infos
            dataOffset = (r.offset + align - 1) / align * align
        } catch {
            Self.release(base, size: size, storage)
            guard let e = error as? GGUFError, !e.description.hasPrefix(path) else { throw error }
            throw GGUFError("\(path): \(e.description)")
        }
        for (i, t) in tensors.enumerated() { tensorIndex[t.name] = i }
        // Check every tensor we can size lies inside the file.
        for t in tensors {
            if let g = t.type?.blockGeometry {
                guard t.dims[0] % g.elements == 0 else {
                    throw GGUFError("\(path): tensor \(t.name) row length \(t.dims[0]) is not a multiple of the \(t.type!.name) block size \(g.elements)")
                }
            }
            guard let bytes = t.byteCount else { continue }
            guard t.offset % alignment == 0 else { throw GGUFError("\(path): tensor \(t.name) is not aligned") }
            let end = dataOffset + t.offset + bytes
            guard end <= size else {
                throw GGUFError("\(path): tensor \(t.name) runs past the end of the file (needs \(end) bytes, file has \(size)); the file is truncated")
            }
        }
    }

    deinit { Self.release(base, size: fileSize, storage) }

    public func tensor(_ name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// Raw bytes of a tensor (bounds were checked at open time).
    public func bytes(of t: GGUFTensorInfo) throws -> UnsafeRawBufferPointer {
        guard let type = t.type else { throw GGUFError("tensor \(t.name) has unknown type code \(t.typeCode)") }
        guard let n = t.byteCount else { throw GGUFError("tensor \(t.name) has type \(type.name), which biasprobe cannot read") }
        return UnsafeRawBufferPointer(start: base + dataOffset + t.offset, count: n)
    }

    /// Dequantise a whole tensor into float32, in GGUF element order.
    public func floats(_ name: String) throws -> [Float] {
        guard let t = tensor(name) else { throw GGUFError("\(path): tensor \(name) is missing") }
        return try floats(t)
    }

    public func floats(_ t: GGUFTensorInfo) throws -> [Float] {
        guard let type = t.type else { throw GGUFError("tensor \(t.name) has unknown type code \(t.typeCode)") }
        guard type.canDequantize else { throw GGUFError("tensor \(t.name) has type \(type.name), which biasprobe cannot dequantise (supported: \(GGMLType.supportedNames))") }
        let raw = try bytes(of: t)
        let n = t.elementCount
        return [Float](unsafeUninitializedCapacity: n) { buf, count in
            Dequantize.run(type, raw, into: buf.baseAddress!, count: n)
            count = n
        }
    }

    // MARK: typed metadata accessors with one-line errors

    public func requireInt(_ key: String) throws -> Int {
        guard let v = metadata[key]?.int else { throw GGUFError("\(path): required metadata \(key) is missing") }
        return v
    }
    public func requireString(_ key: String) throws -> String {
        guard let v = metadata[key]?.string else { throw GGUFError("\(path): required metadata \(key) is missing") }
        return v
    }
}

/// Bounds-checked little-endian cursor over the mapped file.
struct ByteReader {
    let base: UnsafeRawPointer
    let size: Int
    var offset = 0

    mutating func need(_ n: Int) throws {
        guard n >= 0, offset <= size - n else { throw GGUFError("the file is truncated (wanted \(n) bytes at offset \(offset) of \(size))") }
    }
    mutating func load<T: FixedWidthInteger>(_: T.Type) throws -> T {
        try need(MemoryLayout<T>.size)
        let v = base.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }
    mutating func u32() throws -> UInt32 { try load(UInt32.self) }
    mutating func u64() throws -> UInt64 { try load(UInt64.self) }
    /// A count whose items take at least `minBytesEach` bytes, so it cannot exceed what is left.
    mutating func count(minBytesEach: Int, what: String) throws -> Int {
        let c = try u64()
        guard c <= UInt64(max(0, size - offset) / max(1, minBytesEach)) else {
            throw GGUFError("\(what) \(c) is larger than the rest of the file can hold: the file is truncated or corrupt")
        }
        return Int(c)
    }
    mutating func string() throws -> String {
        let n = try count(minBytesEach: 1, what: "string length")
        try need(n)
        let s = String(decoding: UnsafeRawBufferPointer(start: base + offset, count: n), as: UTF8.self)
        offset += n
        return s
    }
    mutating func value(type code: UInt32, depth: Int) throws -> GGUFValue {
        guard let type = GGUFValueType(rawValue: code) else {
            throw GGUFError("unknown metadata value type \(code) at offset \(offset - 4)")
        }
        switch type {
        case .uint8: return .uint8(try load(UInt8.self))
        case .int8: return .int8(try load(Int8.self))
        case .uint16: return .uint16(try load(UInt16.self))
        case .int16: return .int16(try load(Int16.self))
        case .uint32: return .uint32(try load(UInt32.self))
        case .int32: return .int32(try load(Int32.self))
        case .float32: return .float32(Float(bitPattern: try load(UInt32.self)))
        case .bool:
            let b = try load(UInt8.self)
            guard b <= 1 else { throw GGUFError("bad boolean value \(b) at offset \(offset - 1)") }
            return .bool(b == 1)
        case .string: return .string(try string())
        case .array:
            guard depth < 8 else { throw GGUFError("metadata arrays nest too deeply") }
            let code = try u32()
            guard let element = GGUFValueType(rawValue: code) else {
                throw GGUFError("unknown metadata array element type \(code)")
            }
            let n = try count(minBytesEach: element.minimumBytes, what: "array length")
            var out: [GGUFValue] = []
            out.reserveCapacity(n)
            for _ in 0..<n { out.append(try value(type: element.rawValue, depth: depth + 1)) }
            return .array(out)
        case .uint64: return .uint64(try load(UInt64.self))
        case .int64: return .int64(try load(Int64.self))
        case .float64: return .float64(Double(bitPattern: try load(UInt64.self)))
        }
    }
}
