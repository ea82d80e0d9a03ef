import Foundation
import XCTest
import Heatmap

final class PNGIOTests: XCTestCase {
    func testRoundTripKeepsEveryPixel() throws {
        var c = Canvas(width: 7, height: 5, background: RGBA(10, 20, 30))
        c[0, 0] = RGBA(255, 0, 0)
        c[6, 4] = RGBA(1, 2, 3)
        c.fill(Rect(x: 2, y: 1, width: 3, height: 2), with: RGBA(200, 100, 50))
        let dir = try makeTempDir("rt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/a.png"
        try PNG.write(c, to: path)
        let back = try PNG.read(path)
        XCTAssertEqual(back.width, 7)
        XCTAssertEqual(back.height, 5)
        XCTAssertEqual(back, c)
    }

    func testTranslucentCanvasKeepsAlpha() throws {
        var c = Canvas(width: 3, height: 2, background: .clear)
        c[1, 1] = RGBA(9, 8, 7, 128)
        let dir = try makeTempDir("alpha")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try PNG.write(c, to: dir + "/t.png")
        XCTAssertEqual(try PNG.read(dir + "/t.png"), c)
    }

    func testEncodingIsDeterministic() throws {
        let fig = Figure.heatmap(HeatmapPanel(values: sampleMatrix(), rows: 30, cols: 9, title: "det"))
        let a = try PNG.encode(fig.render()), b = try PNG.encode(fig.render())
        XCTAssertEqual(a, b)
        XCTAssertEqual(Array(a.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    }

    func testWriteOntoAFIFOIsRefusedAndTheFIFOKept() throws {
        let dir = try makeTempDir("fifo")
        let target = dir + "/p.png"
        XCTAssertEqual(mkfifo(target, 0o644), 0)
        XCTAssertThrowsError(try PNG.write(Canvas(width: 4, height: 4), to: target)) { error in
            XCTAssertTrue("\(error)".contains("not a regular file"), "\(error)")
        }
        var st = stat()
        XCTAssertEqual(lstat(target, &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFIFO)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["p.png"])
    }

    func testWriteIntoMissingFolderThrowsAndLeavesNothing() throws {
        let dir = try makeTempDir("missing")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = dir + "/no/such/folder/x.png"
        XCTAssertThrowsError(try PNG.write(Canvas(width: 4, height: 4), to: target)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("x.png"), text)
            XCTAssertFalse(text.contains("\n"), "error should be one line: \(text)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: target))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }

    func testSuccessfulWriteLeavesNoTemporaryFile() throws {
        let dir = try makeTempDir("clean")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try PNG.write(Canvas(width: 4, height: 4), to: dir + "/ok.png")
        try PNG.write(Canvas(width: 5, height: 4), to: dir + "/ok.png")  // replaces
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["ok.png"])
        XCTAssertEqual(try PNG.read(dir + "/ok.png").width, 5)
    }

    func testWriteOverADirectoryFailsAndKeepsIt() throws {
        let dir = try makeTempDir("dirtarget")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/taken.png", withIntermediateDirectories: false)
        XCTAssertThrowsError(try PNG.write(Canvas(width: 4, height: 4), to: dir + "/taken.png"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["taken.png"])
    }

    func testReadingGarbageThrows() throws {
        let dir = try makeTempDir("garbage")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/bad.png"
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try PNG.read(path))
        XCTAssertThrowsError(try PNG.read(dir + "/absent.png"))
    }
}
