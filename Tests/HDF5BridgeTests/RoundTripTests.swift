import XCTest
import HDF5Bridge

final class RoundTripTests: XCTestCase {
    private let seed: UInt64 = 0x5EED_B1A5

    /// Every type at rank 0...4 with random shapes, contiguous and (rank >= 1) compressed, written,
    /// closed, reopened read-only and compared bit for bit.
    func testEveryTypeAndRankRoundTrips() throws {
        let folder = try TempFolder()
        var rng = SplitMix64(seed: seed)
        try roundTrip(Float.self, .float32, folder, &rng)
        try roundTrip(Double.self, .float64, folder, &rng)
        try roundTrip(Int32.self, .int32, folder, &rng)
        try roundTrip(Int64.self, .int64, folder, &rng)
        try roundTrip(UInt8.self, .uint8, folder, &rng)
        try roundTrip(String.self, .string, folder, &rng)
    }

    private func roundTrip<T: RandomElement>(_ type: T.Type, _ element: H5ElementType, _ folder: TempFolder,
                                             _ rng: inout SplitMix64) throws {
        let path = folder.file("\(element).h5")
        var expected: [String: (values: [T], shape: [Int], options: H5DatasetOptions)] = [:]
        let file = try H5File.create(path: path)
        for rank in 0...4 {
            var shapes = [(0..<rank).map { _ in Int.random(in: 1...5, using: &rng) }]
            if rank >= 2 { shapes.append([3] + Array(repeating: 0, count: rank - 1)) }  // Zero-size.
            for (s, shape) in shapes.enumerated() {
                let count = shape.reduce(1, *)
                let variants: [H5DatasetOptions] = rank == 0 ? [.contiguous]
                    : [.contiguous, .compressed(level: 6), H5DatasetOptions(chunk: shape.map { max(1, $0 / 2) })]
                for (v, options) in variants.enumerated() {
                    let name = "rank\(rank)/shape\(s)/variant\(v)"
                    let values = randomArray(T.self, count: count, &rng)
                    try file.writeDataset(name, values, shape: shape, options: options)
                    expected[name] = (values, shape, options)
                }
            }
        }
        try file.close()

        let reopened = try H5File.open(path: path)
        for (name, want) in expected {
            let dataset = try reopened.openDataset(name)
            let info = try dataset.info()
            XCTAssertEqual(info.shape, want.shape, "\(element) \(name): shape without reading")
            XCTAssertEqual(info.elementType, element, "\(element) \(name): element type")
            let got = try dataset.read(as: T.self)
            XCTAssertEqual(got.shape, want.shape, "\(element) \(name): shape")
            assertSame(want.values, got.values, "\(element) \(name)")
        }
        XCTAssertEqual(try reopened.memberNames(), ["rank0", "rank1", "rank2", "rank3", "rank4"])
    }

    func testAttributesRoundTripOnFileGroupAndDataset() throws {
        let folder = try TempFolder()
        let path = folder.file("attrs.h5")
        let values: [String: H5AttributeValue] = [
            "text": .string("SmolLM2-135M · 注意力 🙂"),
            "empty_text": .string(""),
            "count": .int(.min),
            "big": .int(.max),
            "ratio": .double(-0.0),
            "inf": .double(.infinity),
            "bands": .strings(["sink", "middle", "recent", ""]),
            "layers": .ints([0, -1, 30, .max]),
            "weights": .doubles([0.25, 1e-300, -7]),
            "no_ints": .ints([]),
            "no_strings": .strings([]),
        ]
        do {
            let file = try H5File.create(path: path)
            let group = try file.createGroup("meta/deep")
            let dataset = try group.writeDataset("x", [Float(1), 2, 3])
            for object in [file as H5Object, group, dataset] {
                for (name, value) in values { try object.setAttribute(name, value) }
                try object.setAttribute("count", 42)            // Overwrite with the Int convenience.
                try object.setAttribute("replaced", "first")
                try object.setAttribute("replaced", [1.5, 2.5])  // Overwrite with another type.
            }
            try file.close()
        }
        let file = try H5File.open(path: path)
        let objects: [H5Object] = [file, try file.openGroup("meta/deep"), try file.openDataset("meta/deep/x")]
        for object in objects {
            var want = values
            want["count"] = .int(42)
            want["replaced"] = .doubles([1.5, 2.5])
            XCTAssertEqual(try object.attributeNames(), want.keys.sorted(), object.path)
            for (name, value) in want {
                XCTAssertEqual(try object.attribute(name), value, "\(object.path) attribute \(name)")
            }
            XCTAssertTrue(try object.hasAttribute("text"))
            XCTAssertFalse(try object.hasAttribute("absent"))
        }
        XCTAssertEqual(try file.attribute("text").stringValue, "SmolLM2-135M · 注意力 🙂")
        XCTAssertEqual(try file.attribute("layers").intsValue, [0, -1, 30, .max])
        let missing = expectH5Error("missing attribute") { _ = try file.attribute("absent") }
        XCTAssertTrue(missing?.description.contains("absent") ?? false, missing?.description ?? "")
    }

    func testExtendibleAppendRoundTrips() throws {
        let folder = try TempFolder()
        let path = folder.file("append.h5")
        var rng = SplitMix64(seed: seed ^ 1)
        var written: [Float] = []
        var labels: [String] = []
        do {
            let file = try H5File.create(path: path)
            let rows = try file.createDataset("trace/mass", of: Float.self, shape: [0, 3, 2],
                                              options: .compressed(level: 3, extendible: true),
                                              dims: ["step", "band", "pair"])
            let names = try file.createDataset("trace/names", of: String.self, shape: [0],
                                               options: H5DatasetOptions(extendible: true))
            for n in [2, 0, 5, 1, 300] {
                let chunk = randomArray(Float.self, count: n * 6, &rng)
                try rows.append(rows: chunk)
                written += chunk
                let newLabels = randomArray(String.self, count: n, &rng)
                try names.append(rows: newLabels)
                labels += newLabels
                XCTAssertEqual(try rows.shape(), [written.count / 6, 3, 2])
            }
            // Not whole rows: rejected, and the dataset does not grow.
            let partial = expectH5Error("partial row") { try rows.append(rows: [Float(1), 2, 3]) }
            XCTAssertTrue(partial?.message.contains("whole rows") ?? false, partial?.description ?? "")
            XCTAssertEqual(try rows.shape(), [308, 3, 2])
            // Wrong type: rejected.
            _ = expectH5Error("wrong type") { try rows.append(rows: [Double](repeating: 0, count: 6)) }
            // A fixed-size dataset cannot grow.
            let fixed = try file.writeDataset("fixed", [Int32(1), 2])
            let notExtendible = expectH5Error("fixed append") { try fixed.append(rows: [Int32(3)]) }
            XCTAssertTrue(notExtendible?.message.contains("not extendible") ?? false, notExtendible?.description ?? "")
            try file.close()
        }
        let file = try H5File.open(path: path)
        let rows = try file.openDataset("trace/mass")
        let info = try rows.info()
        XCTAssertEqual(info.maxShape, [nil, 3, 2])
        XCTAssertEqual(info.deflateLevel, 3)
        XCTAssertTrue(info.shuffle)
        let got = try rows.read(as: Float.self)
        XCTAssertEqual(got.shape, [308, 3, 2])
        assertSame(written, got.values, "appended floats")
        XCTAssertEqual(try rows.dimensionLabels(), ["step", "band", "pair"])
        let gotLabels = try file.readDataset("trace/names", as: String.self)
        XCTAssertEqual(gotLabels.shape, [308])
        XCTAssertEqual(gotLabels.values, labels)
    }

    func testGroupsPathsAndMembers() throws {
        let folder = try TempFolder()
        let file = try H5File.create(path: folder.file("groups.h5"))
        try file.writeDataset("global/band_mass", [Double](repeating: 1, count: 6), shape: [2, 3])
        let global = try file.openGroup("global")
        XCTAssertEqual(global.path, "/global")
        XCTAssertEqual(try global.openDataset("band_mass").path, "/global/band_mass")
        XCTAssertEqual(try file.openDataset("/global/band_mass").shape(), [2, 3])
        _ = try file.createGroup("a/b/c")
        let b = try file.requireGroup("a/b")
        _ = try b.requireGroup("d")
        XCTAssertEqual(try b.memberNames(), ["c", "d"])
        XCTAssertEqual(try file.memberNames(), ["a", "global"])
        XCTAssertTrue(try file.exists("a/b/c"))
        XCTAssertTrue(try b.exists("/global/band_mass"))
        XCTAssertFalse(try file.exists("a/x/c"))            // Missing parent: false, not an error.
        XCTAssertFalse(try file.exists("global/band_mass/x"))  // Parent is a dataset.
        XCTAssertEqual(try file.kind(of: "global"), .group)
        XCTAssertEqual(try file.kind(of: "global/band_mass"), .dataset)
        XCTAssertNil(try file.kind(of: "nope"))
        let exists = expectH5Error("create existing group") { _ = try file.createGroup("a/b") }
        XCTAssertNotNil(exists)
        let notGroup = expectH5Error("open dataset as group") { _ = try file.openGroup("global/band_mass") }
        XCTAssertTrue(notGroup?.message.contains("not a group") ?? false, notGroup?.description ?? "")
        try file.close()
    }
}
