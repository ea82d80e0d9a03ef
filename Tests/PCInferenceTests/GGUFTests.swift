import Foundation
import PCInference
import XCTest

// MARK: - test helpers shared with TokenizerTests

/// Deterministic random numbers for reproducible tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Writes GGUF files byte by byte, so tests can build valid and hostile files.
struct GGUFBuilder {
    enum Value {
        case u8(UInt8), i32(Int32), u32(UInt32), u64(UInt64), f32(Float), bool(Bool), string(String)
        case strings([String]), i32s([Int32])
        /// A value given as its type code and raw bytes (for hostile encodings).
        case raw(type: UInt32, bytes: [UInt8])
    }

    struct Tensor {
        var name: String
        var dims: [UInt64]
        var type: UInt32
        var data: [UInt8]
        /// Offset to write instead of the computed one.
        var offset: UInt64? = nil
    }

    var magic: [UInt8] = Array("GGUF".utf8)
    var version: UInt32 = 3
    var metadata: [(String, Value)] = []
    var tensors: [Tensor] = []
    var alignment = 32

    /// Byte offsets where each section ends, for truncation tests.
    struct Marks { var header = 0, metadata = 0, tensorTable = 0, dataStart = 0, end = 0 }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func str(_ s: String) -> [UInt8] { le(UInt64(s.utf8.count)) + Array(s.utf8) }

    static func encode(_ v: Value) -> (UInt32, [UInt8]) {
        switch v {
        case .u8(let x): return (0, [x])
        case .u32(let x): return (4, le(x))
        case .i32(let x): return (5, le(x))
        case .f32(let x): return (6, le(x.bitPattern))
        case .bool(let x): return (7, [x ? 1 : 0])
        case .string(let s): return (8, str(s))
        case .u64(let x): return (10, le(x))
        case .strings(let a): return (9, le(UInt32(8)) + le(UInt64(a.count)) + a.flatMap(str))
        case .i32s(let a): return (9, le(UInt32(5)) + le(UInt64(a.count)) + a.flatMap { le($0) })
        case .raw(let t, let b): return (t, b)
        }
    }

    func build() -> (bytes: [UInt8], marks: Marks) {
        var out = magic + GGUFBuilder.le(version) + GGUFBuilder.le(UInt64(tensors.count)) + GGUFBuilder.le(UInt64(metadata.count))
        var marks = Marks()
        marks.header = out.count
        for (k, v) in metadata {
            let (t, b) = GGUFBuilder.encode(v)
            out += GGUFBuilder.str(k) + GGUFBuilder.le(t) + b
        }
        marks.metadata = out.count
        var offsets: [UInt64] = []
        var next: UInt64 = 0
        for t in tensors {
            offsets.append(t.offset ?? next)
            next += UInt64(t.data.count)
            next = (next + UInt64(alignment) - 1) / UInt64(alignment) * UInt64(alignment)
        }
        for (t, off) in zip(tensors, offsets) {
            out += GGUFBuilder.str(t.name) + GGUFBuilder.le(UInt32(t.dims.count))
            for d in t.dims { out += GGUFBuilder.le(d) }
            out += GGUFBuilder.le(t.type) + GGUFBuilder.le(off)
        }
        marks.tensorTable = out.count
        while out.count % alignment != 0 { out.append(0) }
        marks.dataStart = out.count
        // Data is written at the computed offsets only; an explicit offset is just recorded in the table.
        for (i, t) in tensors.enumerated() where t.offset == nil {
            let start = marks.dataStart + Int(offsets[i])
            if out.count < start { out += [UInt8](repeating: 0, count: start - out.count) }
            out += t.data
        }
        marks.end = out.count
        return (out, marks)
    }

    /// Write to a fresh temporary file and return its path.
    func write(_ bytes: [UInt8]? = nil, name: String = "test") throws -> String {
        try GGUFBuilder.writeTemp(bytes ?? build().bytes, name: name)
    }

    static var tempDir: URL { FileManager.default.temporaryDirectory.appendingPathComponent("biasprobe-tests-\(getpid())") }

    static func removeTempFiles() { try? FileManager.default.removeItem(at: tempDir) }

    static func writeTemp(_ bytes: [UInt8], name: String) throws -> String {
        let dir = tempDir
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent("\(name)-\(UUID().uuidString).gguf")
        try Data(bytes).write(to: url)
        return url.path
    }
}

func float16Bytes(_ x: Float16) -> [UInt8] { GGUFBuilder.le(x.bitPattern) }

// MARK: - tests

final class GGUFTests: XCTestCase {
    override class func tearDown() { GGUFBuilder.removeTempFiles() }

    // MARK: dequantisation from the block definitions

    /// One tensor with its bytes and the values the format definition says they stand for.
    struct Case { var name: String; var type: UInt32; var dims: [UInt64]; var data: [UInt8]; var expected: [Double] }

    static let halfScales: [Float16] = [0.5, 0.25, -0.125, 1.5, 0.0625, 2, -3, 0.1, 0.0137, -0.7]

    func makeCases() -> [Case] {
        var rng = SplitMix64(seed: 42)
        var cases: [Case] = []
        func half() -> Float16 { GGUFTests.halfScales.randomElement(using: &rng)! }

        // F32: plain little-endian floats.
        do {
            let v = (0..<64).map { _ in Float.random(in: -10...10, using: &rng) }
            cases.append(Case(name: "f32", type: 0, dims: [16, 4], data: v.flatMap { GGUFBuilder.le($0.bitPattern) }, expected: v.map(Double.init)))
        }
        // F16: IEEE half.
        do {
            let v = (0..<64).map { _ in Float16(Float.random(in: -100...100, using: &rng)) }
            cases.append(Case(name: "f16", type: 1, dims: [64], data: v.flatMap(float16Bytes), expected: v.map { Double($0) }))
        }
        // BF16: the top 16 bits of a float32.
        do {
            let bits = (0..<64).map { _ in UInt16(truncatingIfNeeded: Float.random(in: -1e6...1e6, using: &rng).bitPattern >> 16) }
            cases.append(Case(name: "bf16", type: 30, dims: [32, 2], data: bits.flatMap { GGUFBuilder.le($0) },
                              expected: bits.map { Double(Float(bitPattern: UInt32($0) << 16)) }))
        }
        // Q4_0: per 32 weights, f16 d then 16 bytes; byte j holds weight j (low nibble) and j+16 (high); w = (q-8)·d.
        do {
            var data: [UInt8] = [], exp: [Double] = []
            for _ in 0..<4 {
                let d = half()
                let q = (0..<32).map { _ in UInt8.random(in: 0...15, using: &rng) }
                data += float16Bytes(d) + (0..<16).map { q[$0] | q[$0 + 16] << 4 }
                exp += q.map { Double(d) * Double(Int($0) - 8) }
            }
            cases.append(Case(name: "q4_0", type: 2, dims: [64, 2], data: data, expected: exp))
        }
        // Q4_1: f16 d, f16 m, 16 bytes of nibbles as Q4_0; w = q·d + m.
        do {
            var data: [UInt8] = [], exp: [Double] = []
            for _ in 0..<4 {
                let d = half(), m = half()
                let q = (0..<32).map { _ in UInt8.random(in: 0...15, using: &rng) }
                data += float16Bytes(d) + float16Bytes(m) + (0..<16).map { q[$0] | q[$0 + 16] << 4 }
                exp += q.map { Double(d) * Double($0) + Double(m) }
            }
            cases.append(Case(name: "q4_1", type: 3, dims: [128], data: data, expected: exp))
        }
        // Q8_0: f16 d, 32 signed bytes; w = q·d.
        do {
            var data: [UInt8] = [], exp: [Double] = []
            for _ in 0..<3 {
                let d = half()
                let q = (0..<32).map { _ in Int8.random(in: -128...127, using: &rng) }
                data += float16Bytes(d) + q.map { UInt8(bitPattern: $0) }
                exp += q.map { Double(d) * Double($0) }
            }
            cases.append(Case(name: "q8_0", type: 8, dims: [32, 3], data: data, expected: exp))
        }
        // Q4_K: 256 weights in 8 sub-blocks of 32, each with a 6-bit scale and a 6-bit min;
        // w = d·scale[s]·q − dmin·min[s]. Scales/mins 0–3 sit in the low 6 bits of bytes 0–3 / 4–7;
        // 4–7 have their low nibbles in bytes 8–11 (scale low, min high) and their top 2 bits in the
        // top bits of bytes 0–3 (scales) and 4–7 (mins). Quants: byte 32g+l holds weight 64g+l (low
        // nibble) and 64g+32+l (high nibble).
        do {
            var data: [UInt8] = [], exp: [Double] = []
            for _ in 0..<2 {
                let d = half(), dmin = half()
                let sc = (0..<8).map { _ in UInt8.random(in: 0...63, using: &rng) }
                let mn = (0..<8).map { _ in UInt8.random(in: 0...63, using: &rng) }
                let q = (0..<256).map { _ in UInt8.random(in: 0...15, using: &rng) }
                var packed = [UInt8](repeating: 0, count: 12)
                for j in 0..<4 {
                    packed[j] = sc[j] | (sc[j + 4] >> 4) << 6
                    packed[j + 4] = mn[j] | (mn[j + 4] >> 4) << 6
                    packed[j + 8] = (sc[j + 4] & 0xF) | (mn[j + 4] & 0xF) << 4
                }
                var qs = [UInt8](repeating: 0, count: 128)
                for g in 0..<4 { for l in 0..<32 { qs[32 * g + l] = q[64 * g + l] | q[64 * g + 32 + l] << 4 } }
                data += float16Bytes(d) + float16Bytes(dmin) + packed + qs
                exp += (0..<256).map { e in Double(d) * Double(sc[e / 32]) * Double(q[e]) - Double(dmin) * Double(mn[e / 32]) }
            }
            cases.append(Case(name: "q4_K", type: 12, dims: [256, 2], data: data, expected: exp))
        }
        // Q6_K: 256 6-bit quants q (stored as q+32), 16 int8 scales (one per 16 weights), f16 d last;
        // w = d·scale[e/16]·q. Per 128-weight half h: ql[64h+l] = low4(e=l) | low4(l+64)<<4,
        // ql[64h+32+l] = low4(l+32) | low4(l+96)<<4, qh[32h+l] = the top 2 bits of l, l+32, l+64, l+96.
        do {
            var data: [UInt8] = [], exp: [Double] = []
            for _ in 0..<2 {
                let d = half()
                let scales = (0..<16).map { _ in Int8.random(in: -128...127, using: &rng) }
                let L = (0..<256).map { _ in UInt8.random(in: 0...63, using: &rng) }
                var ql = [UInt8](repeating: 0, count: 128), qh = [UInt8](repeating: 0, count: 64)
                for h in 0..<2 {
                    let b = 128 * h
                    for l in 0..<32 {
                        ql[64 * h + l] = (L[b + l] & 0xF) | (L[b + l + 64] & 0xF) << 4
                        ql[64 * h + l + 32] = (L[b + l + 32] & 0xF) | (L[b + l + 96] & 0xF) << 4
                        qh[32 * h + l] = L[b + l] >> 4 | (L[b + l + 32] >> 4) << 2 | (L[b + l + 64] >> 4) << 4 | (L[b + l + 96] >> 4) << 6
                    }
                }
                data += ql + qh + scales.map { UInt8(bitPattern: $0) } + float16Bytes(d)
                exp += (0..<256).map { e in Double(d) * Double(scales[e / 16]) * Double(Int(L[e]) - 32) }
            }
            cases.append(Case(name: "q6_K", type: 14, dims: [512], data: data, expected: exp))
        }
        return cases
    }

    func testDequantiseEachTypeFromItsDefinition() throws {
        let cases = makeCases()
        var b = GGUFBuilder()
        b.metadata = [("general.architecture", .string("test"))]
        b.tensors = cases.map { GGUFBuilder.Tensor(name: $0.name, dims: $0.dims, type: $0.type, data: $0.data) }
        let f = try GGUFFile(path: try b.write(name: "dequant"))
        XCTAssertEqual(f.tensors.count, cases.count)
        for c in cases {
            let t = try XCTUnwrap(f.tensor(c.name), c.name)
            XCTAssertEqual(t.byteCount, c.data.count, "\(c.name) byte count")
            let got = try f.floats(t)
            XCTAssertEqual(got.count, c.expected.count, c.name)
            var worst = 0.0
            for (g, e) in zip(got, c.expected) { worst = max(worst, abs(Double(g) - e) / max(1, abs(e))) }
            XCTAssertLessThanOrEqual(worst, 1e-6, "\(c.name): largest relative error \(worst)")
        }
        // Dequantize.run directly on the raw bytes gives the same as through the file.
        for c in cases where c.type == 12 {
            var y = [Float](repeating: .nan, count: c.expected.count)
            c.data.withUnsafeBytes { raw in Dequantize.run(.q4_K, raw, into: &y, count: y.count) }
            XCTAssertEqual(y, try f.floats(c.name))
        }
    }

    // MARK: hostile files

    /// A small valid file: two metadata values (one an array) and two tensors.
    func validBuilder() -> GGUFBuilder {
        var b = GGUFBuilder()
        b.metadata = [("general.architecture", .string("llama")), ("test.numbers", .i32s([1, 2, 3, 4])),
                      ("test.flag", .bool(true))]
        let f32 = (0..<8).flatMap { GGUFBuilder.le(Float($0).bitPattern) }
        let q8 = float16Bytes(0.5) + (0..<32).map { UInt8($0) }
        b.tensors = [GGUFBuilder.Tensor(name: "a", dims: [8], type: 0, data: f32),
                     GGUFBuilder.Tensor(name: "b", dims: [32], type: 8, data: q8)]
        return b
    }

    /// `body` must throw a GGUFError with a one-line message, optionally containing `mention`.
    func assertGGUFError(_ what: String, mention: String? = nil, file: StaticString = #filePath, line: UInt = #line,
                         _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("\(what): no error", file: file, line: line)
        } catch let e as GGUFError {
            XCTAssertFalse(e.description.isEmpty, what, file: file, line: line)
            XCTAssertFalse(e.description.contains("\n"), "\(what): message is not one line: \(e)", file: file, line: line)
            if let mention {
                XCTAssertTrue(e.description.contains(mention), "\(what): \"\(e)\" does not mention \(mention)", file: file, line: line)
            }
        } catch {
            XCTFail("\(what): threw \(type(of: error)), not GGUFError: \(error)", file: file, line: line)
        }
    }

    func testValidSmallFileOpens() throws {
        let f = try GGUFFile(path: try validBuilder().write(name: "valid"))
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.metadata["general.architecture"]?.string, "llama")
        XCTAssertEqual(f.metadata["test.numbers"]?.array?.compactMap(\.int), [1, 2, 3, 4])
        XCTAssertEqual(f.metadata["test.flag"]?.bool, true)
        XCTAssertEqual(f.metadataKeys, ["general.architecture", "test.numbers", "test.flag"])
        XCTAssertEqual(try f.floats("a"), (0..<8).map(Float.init))
        XCTAssertEqual(try f.floats("b"), (0..<32).map { Float($0) * 0.5 })
        assertGGUFError("missing tensor", mention: "nope") { _ = try f.floats("nope") }
        assertGGUFError("missing metadata", mention: "llama.block_count") { _ = try f.requireInt("llama.block_count") }
    }

    /// llama.cpp refuses a file that repeats a metadata key or a tensor name; so does biasprobe,
    /// naming the repeated entry (the committed fixtures are hand-made files of each kind).
    func testDuplicateKeysAndTensorNamesAreRefused() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/malformed")
        assertGGUFError("duplicate key fixture", mention: "metadata key general.architecture appears twice") {
            _ = try GGUFFile(path: folder.appendingPathComponent("duplicate-metadata-key.gguf").path)
        }
        assertGGUFError("duplicate tensor fixture", mention: "tensor token_embd.weight appears twice") {
            _ = try GGUFFile(path: folder.appendingPathComponent("duplicate-tensor-name.gguf").path)
        }
        var b = validBuilder()
        b.metadata.append(("test.flag", .bool(false)))
        assertGGUFError("duplicate key", mention: "test.flag appears twice") { _ = try GGUFFile(path: try b.write(name: "dupkey")) }
        b = validBuilder()
        b.tensors.append(b.tensors[0])
        assertGGUFError("duplicate tensor", mention: "tensor a appears twice") { _ = try GGUFFile(path: try b.write(name: "duptensor")) }
    }

    /// Every value type of the GGUF specification round-trips through its tag.
    func testEveryValueTypeTagIsKnown() throws {
        XCTAssertEqual(GGUFValueType.allCases.map(\.rawValue), Array(0...12))
        var b = validBuilder()
        b.metadata.append(("test.unknown", .raw(type: 13, bytes: [0, 0, 0, 0])))
        assertGGUFError("type 13", mention: "unknown metadata value type 13") { _ = try GGUFFile(path: try b.write(name: "t13")) }
    }

    func testBadMagicAndVersions() throws {
        var b = validBuilder()
        b.magic = Array("GGML".utf8)
        assertGGUFError("bad magic", mention: "not a GGUF") { _ = try GGUFFile(path: try b.write(name: "magic")) }
        for v: UInt32 in [1, 99] {
            var b = validBuilder()
            b.version = v
            assertGGUFError("version \(v)", mention: "\(v)") { _ = try GGUFFile(path: try b.write(name: "version")) }
        }
        assertGGUFError("not a file", mention: "/nonexistent") { _ = try GGUFFile(path: "/nonexistent/x.gguf") }
        assertGGUFError("a directory") { _ = try GGUFFile(path: FileManager.default.temporaryDirectory.path) }
    }

    func testTruncatedAnywhere() throws {
        let (bytes, m) = validBuilder().build()
        XCTAssertNoThrow(try GGUFFile(path: try GGUFBuilder.writeTemp(bytes, name: "whole")))
        let cuts = [0, 3, 4, 8, 16, 23, m.header, m.header + 5, (m.header + m.metadata) / 2, m.metadata - 1, m.metadata,
                    m.metadata + 9, (m.metadata + m.tensorTable) / 2, m.tensorTable - 1, m.tensorTable,
                    m.dataStart + 4, m.end - 1]
        for cut in Set(cuts).sorted() where cut < bytes.count {
            assertGGUFError("truncated at \(cut) of \(bytes.count)") {
                _ = try GGUFFile(path: try GGUFBuilder.writeTemp(Array(bytes[0..<cut]), name: "cut\(cut)"))
            }
        }
        // Every single cut point, for thoroughness (the file is small).
        for cut in 0..<bytes.count {
            let path = try GGUFBuilder.writeTemp(Array(bytes[0..<cut]), name: "every")
            XCTAssertThrowsError(try GGUFFile(path: path), "cut at \(cut)") { XCTAssertTrue($0 is GGUFError) }
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    func testImpossibleLengths() throws {
        // A string value whose length is 2^63.
        var b = validBuilder()
        b.metadata.append(("test.huge_string", .raw(type: 8, bytes: GGUFBuilder.le(UInt64(1) << 63) + Array("abc".utf8))))
        assertGGUFError("string length 2^63", mention: "string length") { _ = try GGUFFile(path: try b.write(name: "str")) }
        // A key whose length is 2^63.
        var k = validBuilder()
        var (bytes, m) = k.build()
        bytes.replaceSubrange(m.header..<(m.header + 8), with: GGUFBuilder.le(UInt64(1) << 63))
        assertGGUFError("key length 2^63", mention: "string length") { _ = try GGUFFile(path: try k.write(bytes, name: "key")) }
        // An array of 2^40 int32s, and one of 2^64-1 strings.
        b = validBuilder()
        b.metadata.append(("test.huge_array", .raw(type: 9, bytes: GGUFBuilder.le(UInt32(5)) + GGUFBuilder.le(UInt64(1) << 40) + [1, 2, 3, 4])))
        assertGGUFError("array count 2^40", mention: "array length") { _ = try GGUFFile(path: try b.write(name: "arr")) }
        b = validBuilder()
        b.metadata.append(("test.huge_array", .raw(type: 9, bytes: GGUFBuilder.le(UInt32(8)) + GGUFBuilder.le(UInt64.max))))
        assertGGUFError("array count 2^64-1", mention: "array length") { _ = try GGUFFile(path: try b.write(name: "arr2")) }
        // Tensor and metadata counts larger than the file.
        k = validBuilder()
        (bytes, m) = k.build()
        bytes.replaceSubrange(8..<16, with: GGUFBuilder.le(UInt64(1) << 62))
        assertGGUFError("tensor count 2^62", mention: "tensor count") { _ = try GGUFFile(path: try k.write(bytes, name: "tc")) }
        bytes = k.build().bytes
        bytes.replaceSubrange(16..<24, with: GGUFBuilder.le(UInt64.max))
        assertGGUFError("metadata count 2^64-1", mention: "metadata count") { _ = try GGUFFile(path: try k.write(bytes, name: "kc")) }
        // Unknown metadata value type.
        b = validBuilder()
        b.metadata.append(("test.weird", .raw(type: 77, bytes: [0, 0, 0, 0])))
        assertGGUFError("metadata type 77", mention: "77") { _ = try GGUFFile(path: try b.write(name: "vt")) }
        // Arrays nested deeper than any real file.
        var nested: [UInt8] = GGUFBuilder.le(UInt32(5)) + GGUFBuilder.le(UInt64(1)) + GGUFBuilder.le(Int32(7))
        for _ in 0..<20 { nested = GGUFBuilder.le(UInt32(9)) + GGUFBuilder.le(UInt64(1)) + nested }
        b = validBuilder()
        b.metadata.append(("test.nested", .raw(type: 9, bytes: nested)))
        assertGGUFError("deeply nested arrays", mention: "nest") { _ = try GGUFFile(path: try b.write(name: "nest")) }
    }

    func testBadTensors() throws {
        // Data running past the end: claims 64 floats, holds 8.
        var b = validBuilder()
        b.tensors[0].dims = [64]
        assertGGUFError("tensor past the end", mention: "past the end") { _ = try GGUFFile(path: try b.write(name: "past")) }
        // Offset beyond the file.
        b = validBuilder()
        b.tensors.append(GGUFBuilder.Tensor(name: "far", dims: [8], type: 0, data: [], offset: 1 << 40))
        assertGGUFError("offset beyond the file", mention: "far") { _ = try GGUFFile(path: try b.write(name: "far")) }
        // Five dimensions.
        b = validBuilder()
        b.tensors[0].dims = [2, 1, 2, 1, 2]
        assertGGUFError("5 dims", mention: "5 dimensions") { _ = try GGUFFile(path: try b.write(name: "dims")) }
        // A dimension of zero and one of 2^63.
        b = validBuilder()
        b.tensors[0].dims = [0]
        assertGGUFError("zero dim", mention: "dimension") { _ = try GGUFFile(path: try b.write(name: "zero")) }
        b = validBuilder()
        b.tensors[0].dims = [1 << 63]
        assertGGUFError("huge dim", mention: "dimension") { _ = try GGUFFile(path: try b.write(name: "hugedim")) }
        // Dimensions whose product overflows.
        b = validBuilder()
        b.tensors[0].dims = [1 << 39, 1 << 39, 1 << 39]
        assertGGUFError("dim product overflow", mention: "large") { _ = try GGUFFile(path: try b.write(name: "overflow")) }
        // A row length that is not a whole number of blocks.
        b = validBuilder()
        b.tensors[1].dims = [16, 2]
        assertGGUFError("row not whole blocks", mention: "block") { _ = try GGUFFile(path: try b.write(name: "rows")) }
        // A misaligned offset.
        b = validBuilder()
        b.tensors[1].offset = 36
        assertGGUFError("misaligned", mention: "aligned") { _ = try GGUFFile(path: try b.write(name: "align")) }
        // An alignment that is not a power of two.
        b = validBuilder()
        b.metadata.append(("general.alignment", .u32(24)))
        assertGGUFError("alignment 24", mention: "alignment") { _ = try GGUFFile(path: try b.write(name: "al")) }
    }

    func testUnknownAndUnsupportedTensorTypes() throws {
        // Unknown type code: the file opens (the tensor cannot be sized, so it is not checked);
        // reading it gives an error naming the code.
        var b = validBuilder()
        b.tensors.append(GGUFBuilder.Tensor(name: "mystery", dims: [32], type: 99, data: [UInt8](repeating: 0, count: 64)))
        let f = try GGUFFile(path: try b.write(name: "unknown"))
        XCTAssertEqual(f.tensor("mystery")?.typeCode, 99)
        XCTAssertNil(f.tensor("mystery")?.type)
        assertGGUFError("dequantise type 99", mention: "99") { _ = try f.floats("mystery") }
        assertGGUFError("bytes of type 99", mention: "99") { _ = try f.bytes(of: f.tensor("mystery")!) }
        XCTAssertEqual(try f.floats("a"), (0..<8).map(Float.init), "other tensors stay readable")
        // A known type biasprobe cannot dequantise (Q3_K): opens, bytes readable, floats names the type.
        b = validBuilder()
        b.tensors.append(GGUFBuilder.Tensor(name: "q3k", dims: [256], type: 11, data: [UInt8](repeating: 0, count: 110)))
        let g = try GGUFFile(path: try b.write(name: "q3k"))
        XCTAssertEqual(try g.bytes(of: g.tensor("q3k")!).count, 110)
        assertGGUFError("dequantise Q3_K", mention: "Q3_K") { _ = try g.floats("q3k") }
    }

    // MARK: the default model

    func testDefaultModelOpens() throws {
        let f = try GGUFFile(path: try BiasprobeTestFiles.requireModel())
        XCTAssertEqual(f.metadata["general.architecture"]?.string, "llama")
        let layers = try f.requireInt("llama.block_count")
        // 9 tensors per layer (2 norms, q, k, v, o, gate, up, down), the embedding and the output norm.
        XCTAssertEqual(f.tensors.count, 9 * layers + 2)
        XCTAssertTrue((250...300).contains(f.tensors.count), "\(f.tensors.count) tensors")
        let embd = try XCTUnwrap(f.tensor("token_embd.weight"))
        XCTAssertEqual(embd.type, .q8_0)
        XCTAssertEqual(embd.dims, [try f.requireInt("llama.embedding_length"), try f.requireInt("llama.vocab_size")])
        for t in f.tensors where t.name.hasPrefix("blk.") {
            XCTAssertEqual(t.type, t.dims.count == 2 ? .q4_1 : .f32, t.name)
        }
        XCTAssertEqual(f.tensor("output_norm.weight")?.type, .f32)
        let q = try f.floats("blk.0.attn_q.weight")
        let n = try f.requireInt("llama.embedding_length")
        XCTAssertEqual(q.count, n * n)
        XCTAssertTrue(q.allSatisfy(\.isFinite))
        XCTAssertGreaterThan(q.map(abs).max()!, 0)
    }
}
