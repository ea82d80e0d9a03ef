import XCTest
import HDF5Bridge

/// Files are read by people with h5py; these tests open them the same way.
final class ReaderCompatibilityTests: XCTestCase {

    /// Writes a trace-shaped dataset with named dims and a `band` scale, then checks both our own
    /// view and h5py's: labels, attached scale, its values, compression, shuffle, chunks, strings.
    func testH5pySeesLabelsScalesAndCompression() throws {
        let folder = try TempFolder()
        let path = folder.file("trace.h5")
        let shape = [2, 3, 4, 3]  // layer, head, chunk, band
        let values = (0..<shape.reduce(1, *)).map { Float($0) * 0.5 }
        do {
            let file = try H5File.create(path: path)
            try file.setAttribute("model", "SmolLM2-135M")
            try file.setAttribute("layers", 2)
            let band = try file.writeDimensionScale("band", ["sink", "middle", "recent"])
            let mass = try file.writeDataset("global/band_mass", values, shape: shape,
                                             options: .compressed(level: 7, chunk: [1, 3, 4, 3]),
                                             dims: ["layer", "head", "chunk", "band"])
            try mass.attachScale(band, dimension: 3)

            XCTAssertTrue(try band.isDimensionScale())
            XCTAssertFalse(try mass.isDimensionScale())
            XCTAssertEqual(try mass.attachedScaleCount(dimension: 3), 1)
            XCTAssertEqual(try mass.attachedScaleCount(dimension: 0), 0)
            XCTAssertEqual(try mass.dimensionLabels(), ["layer", "head", "chunk", "band"])
            let info = try mass.info()
            XCTAssertEqual(info.chunk, [1, 3, 4, 3])
            XCTAssertEqual(info.deflateLevel, 7)
            XCTAssertTrue(info.shuffle)
            XCTAssertNil(try file.openDataset("band").info().chunk, "the scale is contiguous")

            let wrongRank = expectH5Error("labels for wrong rank") { try mass.setDimensionLabels(["a"]) }
            XCTAssertNotNil(wrongRank)
            let badDim = expectH5Error("attach out of range") { try mass.attachScale(band, dimension: 4) }
            XCTAssertNotNil(badDim)
            let notScale = expectH5Error("attach a non-scale") { try band.attachScale(mass, dimension: 0) }
            XCTAssertTrue(notScale?.message.contains("not a dimension scale") ?? false, notScale?.description ?? "")
            try file.close()
        }

        let script = """
        f = h5py.File(sys.argv[1], "r")
        d = f["global/band_mass"]
        s = d.dims[3][0]
        print(json.dumps({
            "labels": [dim.label for dim in d.dims],
            "scale_keys": list(d.dims[3].keys()),
            "scale_path": s.name,
            "scale_values": [v for v in s.asstr()[()]],
            "scales_on_dim0": len(d.dims[0]),
            "compression": d.compression,
            "compression_opts": d.compression_opts,
            "shuffle": d.shuffle,
            "chunks": list(d.chunks),
            "shape": list(d.shape),
            "dtype": str(d.dtype),
            "sum": float(d[()].sum()),
            "last": float(d[1, 2, 3, 2]),
            "model": f.attrs["model"],
            "layers": int(f.attrs["layers"]),
        }))
        """
        guard let json = try pythonJSON(script, [path]) else { return }
        XCTAssertEqual(json["labels"] as? [String], ["layer", "head", "chunk", "band"])
        XCTAssertEqual(json["scale_keys"] as? [String], ["band"])
        XCTAssertEqual(json["scale_path"] as? String, "/band")
        XCTAssertEqual(json["scale_values"] as? [String], ["sink", "middle", "recent"])
        XCTAssertEqual(json["scales_on_dim0"] as? Int, 0)
        XCTAssertEqual(json["compression"] as? String, "gzip")
        XCTAssertEqual(json["compression_opts"] as? Int, 7)
        XCTAssertEqual(json["shuffle"] as? Bool, true)
        XCTAssertEqual(json["chunks"] as? [Int], [1, 3, 4, 3])
        XCTAssertEqual(json["shape"] as? [Int], shape)
        XCTAssertEqual(json["dtype"] as? String, "float32")
        XCTAssertEqual(json["sum"] as? Double, Double(values.reduce(0, +)))
        XCTAssertEqual(json["last"] as? Double, Double(values.last!))
        XCTAssertEqual(json["model"] as? String, "SmolLM2-135M")
        XCTAssertEqual(json["layers"] as? Int, 2)
    }

    /// Compression must really shrink the file: a contiguous copy of compressible data is larger.
    func testCompressionIsApplied() throws {
        let folder = try TempFolder()
        let values = (0..<200_000).map { Float($0 % 100) }
        for (name, options) in [("plain.h5", H5DatasetOptions.contiguous), ("packed.h5", .compressed(level: 9))] {
            let file = try H5File.create(path: folder.file(name))
            try file.writeDataset("x", values, shape: [400, 500], options: options)
            try file.close()
        }
        let size = { (name: String) throws -> Int in
            (try FileManager.default.attributesOfItem(atPath: folder.file(name))[.size] as? Int) ?? 0
        }
        let plain = try size("plain.h5"), packed = try size("packed.h5")
        XCTAssertGreaterThan(plain, 800_000)
        XCTAssertLessThan(packed, plain / 10, "deflate did not shrink the data (plain \(plain), packed \(packed))")
        let info = try H5File.open(path: folder.file("packed.h5")).openDataset("x").info()
        XCTAssertNotNil(info.chunk)
        XCTAssertEqual(info.deflateLevel, 9)
        XCTAssertTrue(info.shuffle)
        let plainInfo = try H5File.open(path: folder.file("plain.h5")).openDataset("x").info()
        XCTAssertNil(plainInfo.chunk)
        XCTAssertNil(plainInfo.deflateLevel)
        XCTAssertFalse(plainInfo.shuffle)
    }

    /// h5py sees extendible datasets as unlimited along the first axis, and reads our strings as text.
    func testH5pyReadsExtendibleDatasetsAndStrings() throws {
        let folder = try TempFolder()
        let path = folder.file("grow.h5")
        do {
            let file = try H5File.create(path: path)
            let d = try file.createDataset("steps", of: Int64.self, shape: [0, 2], options: .init(extendible: true))
            try d.append(rows: [Int64(1), 2, 3, 4])
            try d.append(rows: [Int64(5), 6])
            try file.writeDataset("words", ["Grüße", "", "注意力"])
            try file.writeDataset("scalar", ["alone"], shape: [])
            try file.close()
        }
        let script = """
        f = h5py.File(sys.argv[1], "r")
        print(json.dumps({
            "maxshape": [m for m in f["steps"].maxshape],
            "steps": f["steps"][()].tolist(),
            "words": [w for w in f["words"].asstr()[()]],
            "scalar": f["scalar"].asstr()[()],
        }))
        """
        guard let json = try pythonJSON(script, [path]) else { return }
        XCTAssertEqual((json["maxshape"] as? [Any])?.count, 2)
        XCTAssertTrue((json["maxshape"] as? [Any])?.first is NSNull, "first axis should be unlimited: \(json)")
        XCTAssertEqual(json["steps"] as? [[Int]], [[1, 2], [3, 4], [5, 6]])
        XCTAssertEqual(json["words"] as? [String], ["Grüße", "", "注意力"])
        XCTAssertEqual(json["scalar"] as? String, "alone")
    }

    /// Files written by h5py (fixed-length strings, other integer widths) read back here.
    func testReadsFilesWrittenByH5py() throws {
        let folder = try TempFolder()
        let path = folder.file("from-python.h5")
        let script = """
        f = h5py.File(sys.argv[1], "w")
        f["fixed"] = numpy.array([b"ab", b"c", b""], dtype="S4")
        f["vlen"] = numpy.array(["x", "yz"], dtype=h5py.string_dtype())
        f["f32"] = numpy.arange(6, dtype=numpy.float32).reshape(2, 3)
        f["i16"] = numpy.arange(3, dtype=numpy.int16)
        f.attrs["i32"] = numpy.int32(-5)
        f.attrs["f32s"] = numpy.array([0.5, 1.5], dtype=numpy.float32)
        f.attrs["fixed_attr"] = numpy.bytes_(b"fixed")
        f.close()
        print(json.dumps({}))
        """
        guard try pythonJSON(script, [path]) != nil else { return }
        let file = try H5File.open(path: path)
        XCTAssertEqual(try file.readDataset("fixed", as: String.self).values, ["ab", "c", ""])
        XCTAssertEqual(try file.readDataset("vlen", as: String.self).values, ["x", "yz"])
        let f32 = try file.readDataset("f32", as: Float.self)
        XCTAssertEqual(f32.shape, [2, 3])
        XCTAssertEqual(f32.values, [0, 1, 2, 3, 4, 5])
        XCTAssertNil(try file.openDataset("i16").elementType())
        let unsupported = expectH5Error("read int16 as Int32") { _ = try file.readDataset("i16", as: Int32.self) }
        XCTAssertTrue(unsupported?.message.contains("unsupported type") ?? false, unsupported?.description ?? "")
        XCTAssertEqual(try file.attribute("i32"), .int(-5))
        XCTAssertEqual(try file.attribute("f32s"), .doubles([0.5, 1.5]))
        XCTAssertEqual(try file.attribute("fixed_attr"), .string("fixed"))
    }
}
