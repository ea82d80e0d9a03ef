import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import HDF5Bridge
import Heatmap
import XCTest

/// End-to-end tests of `biasprobe plot`: the built binary plots a small trace made by the
/// binary itself, and each PNG is decoded and checked against values read from the trace.
final class PlotCommandTests: XCTestCase {
    override class func tearDown() {
        PlotFixture.removeAll()
        super.tearDown()
    }

    // MARK: layer

    func testLayerFigureCellsHaveTheColoursOfTheTraceValues() throws {
        let trace = try PlotFixture.trace(.plain)
        let dir = try PlotFixture.tempDir("layer")
        let out = dir + "/new/folder/layer1.png"   // folders are created
        let r = try PlotFixture.run(["plot", "layer", "1", "--trace", trace, "--out", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "wrote \(out)\n")
        let info = try r.json()
        let png = try PNG.read(out)
        XCTAssertEqual(png.width, info["width"] as? Int)
        XCTAssertEqual(png.height, info["height"] as? Int)
        XCTAssertGreaterThanOrEqual(png.width, 900)
        XCTAssertGreaterThanOrEqual(png.height, 500)

        let t = try TraceValues(trace)
        let l = 1, H = t.heads, C = t.chunks
        let local = try t.floats("local/band_mass"), global = try t.floats("global/band_mass")
        // The documented scale: viridis from 0 to the largest finite value of the six panels.
        var hi: Float = 0
        for h in 0..<H { for c in 0..<C { for b in 0..<3 {
            for a in [local, global] { let v = a[((l * H + h) * C + c) * 3 + b]; if v.isFinite { hi = max(hi, v) } }
        } } }
        let scale = ColorScale(colormap: .viridis, vmin: 0, vmax: Double(hi))
        let s = try XCTUnwrap(info["scale"] as? [String: Any])
        XCTAssertEqual(s["vmin"] as? Double, 0)
        XCTAssertEqual(try XCTUnwrap(s["vmax"] as? Double), Double(hi), accuracy: 1e-9)

        let panels = try info.panels()
        XCTAssertEqual(panels.map(\.name), ["local sink", "local middle", "local recent", "global sink", "global middle", "global recent"])
        var nanCells = 0, keptCells = 0
        for (i, p) in panels.enumerated() {
            XCTAssertEqual(p.rows, H); XCTAssertEqual(p.cols, C)
            let data = i < 3 ? local : global
            for h in 0..<H {
                for c in 0..<C {
                    let v = data[((l * H + h) * C + c) * 3 + i % 3]
                    let cell = p.cell(row: h, col: c)
                    XCTAssertEqual(png[cell.x, cell.y], scale.color(v), "\(p.name) head \(h) chunk \(c) value \(v)")
                    if i >= 3 { if v.isNaN { nanCells += 1 } else { keptCells += 1 } }
                }
            }
        }
        // Global cells of chunks that were not kept are NaN (grey); kept ones are coloured.
        XCTAssertEqual(keptCells, 3 * H * t.kept.filter { $0 }.count)
        XCTAssertEqual(nanCells, 3 * H * t.kept.filter { !$0 }.count)
        XCTAssertGreaterThan(nanCells, 0, "the test trace should have a chunk that was not kept")
    }

    func testWidthAndHeightOptionsSetThePNGSize() throws {
        let trace = try PlotFixture.trace(.plain)
        let out = try PlotFixture.tempDir("size") + "/l.png"
        let r = try PlotFixture.run(["plot", "layer", "0", "--trace", trace, "--out", out, "--width", "1400", "--height", "900"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let png = try PNG.read(out)
        XCTAssertEqual(png.width, 1400)
        XCTAssertEqual(png.height, 900)
    }

    // MARK: overview

    func testOverviewAveragesLocalOverChunksAndSumsGlobalOverKeptChunks() throws {
        let trace = try PlotFixture.trace(.plain)
        let out = try PlotFixture.tempDir("overview") + "/o.png"
        let r = try PlotFixture.run(["plot", "overview", "--trace", trace, "--out", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let info = try r.json()
        let png = try PNG.read(out)
        XCTAssertEqual(png.width, info["width"] as? Int)
        let t = try TraceValues(trace)
        let L = t.layers, H = t.heads, C = t.chunks
        let local = try t.floats("local/band_mass"), global = try t.floats("global/band_mass")
        let kept = (0..<C).filter { t.kept[$0] }
        var maps: [[Float]] = []
        for (stage, a) in [("local", local), ("global", global)] {
            for b in 0..<3 {
                var m = [Float](repeating: .nan, count: L * H)
                for l in 0..<L { for h in 0..<H {
                    let at = { (c: Int) in Double(a[((l * H + h) * C + c) * 3 + b]) }
                    if stage == "local" {
                        m[l * H + h] = Float((0..<C).map(at).reduce(0, +) / Double(C))
                    } else {
                        m[l * H + h] = Float(kept.map(at).reduce(0, +))
                    }
                } }
                maps.append(m)
            }
        }
        let hi = maps.joined().filter(\.isFinite).max() ?? 0
        let scale = ColorScale(colormap: .viridis, vmin: 0, vmax: Double(hi))
        let panels = try info.panels()
        XCTAssertEqual(panels.count, 6)
        for (i, p) in panels.enumerated() {
            XCTAssertEqual(p.rows, L); XCTAssertEqual(p.cols, H)
            for l in 0..<L { for h in 0..<H {
                let cell = p.cell(row: l, col: h)
                XCTAssertEqual(png[cell.x, cell.y], scale.color(maps[i][l * H + h]), "\(p.name) layer \(l) head \(h)")
            } }
        }
        // A sanity check on the data itself: global masses summed over kept chunks stay within 0...1.
        XCTAssertLessThanOrEqual(hi, 1.0001)
    }

    // MARK: profile

    func testProfileDrawsLocalAndGlobalSeriesAndSaysWhenThePrefillProfileIsMissing() throws {
        let trace = try PlotFixture.trace(.plain)
        let dir = try PlotFixture.tempDir("profile")
        // No --out: the default name under outputs/ in the working directory.
        let r = try PlotFixture.run(["plot", "profile", "--layer", "2", "--head", "3", "--trace", trace, "--json"], cwd: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "wrote outputs/profile-layer2-head3.png\n")
        let png = try PNG.read(dir + "/outputs/profile-layer2-head3.png")
        let info = try r.json()
        XCTAssertEqual(png.width, info["width"] as? Int)
        XCTAssertEqual(png.height, info["height"] as? Int)
        let plot = try XCTUnwrap(info.rect("plot"))
        func count(_ c: RGBA) -> Int {
            var n = 0
            for y in plot.y..<plot.maxY { for x in plot.x..<plot.maxX where png[x, y] == c { n += 1 } }
            return n
        }
        XCTAssertGreaterThan(count(Palette.color(0)), 100, "local series")
        XCTAssertGreaterThan(count(Palette.color(1)), 20, "global series")
        // The trace was made with --no-prefill-rows: no third series.
        XCTAssertEqual(count(Palette.color(2)), 0, "within-chunk series drawn although the trace has no prefill profile")

        // Mean over heads: default name without the head.
        let r2 = try PlotFixture.run(["plot", "profile", "--layer", "2", "--trace", trace], cwd: dir)
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/outputs/profile-layer2.png"))
        // A chunk range narrows the x axis to those chunks.
        let r3 = try PlotFixture.run(["plot", "profile", "--layer", "2", "--chunks", "1-2", "--trace", trace, "--json"], cwd: dir)
        XCTAssertEqual(r3.status, 0, r3.stderr)
        XCTAssertEqual(r3.stderr, "wrote outputs/profile-layer2-chunks1-2.png\n")
    }

    // MARK: outliers

    func testOutlierCountsMatchKeyScoresAboveLambda() throws {
        let trace = try PlotFixture.trace(.plain)
        let out = try PlotFixture.tempDir("outliers") + "/o.png"
        let lambda = 0.05
        let r = try PlotFixture.run(["plot", "outliers", "--lambda", "\(lambda)", "--trace", trace, "--out", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let info = try r.json()
        let png = try PNG.read(out)
        XCTAssertEqual(png.width, info["width"] as? Int)
        let t = try TraceValues(trace)
        let (context, question) = try t.outliers(lambda: lambda)
        XCTAssertGreaterThan(context.reduce(0, +), 0, "expected some outliers at lambda \(lambda)")
        let panels = try info.panels()
        XCTAssertEqual(panels.map(\.name), ["context", "question"], "no calibration: two panels")
        try checkCounts(png, panels, [context, question], heads: t.heads, layers: t.layers)
    }

    func testCalibratedTraceShowsEvictedOutliersAndTheEstimateBefore() throws {
        let trace = try PlotFixture.trace(.calibrated)
        let out = try PlotFixture.tempDir("outliers-cal") + "/o.png"
        let r = try PlotFixture.run(["plot", "outliers", "--trace", trace, "--out", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let info = try r.json()
        let png = try PNG.read(out)
        let t = try TraceValues(trace)
        let found = try t.ints("eviction/outliers_query").map(Float.init)
        XCTAssertGreaterThan(try t.ints("eviction/calibration_query").reduce(0, +), 0, "the calibrated trace evicted nothing")
        let (context, question) = try t.outliers(lambda: 0.1)   // the trace's calibration lambda
        let panels = try info.panels()
        XCTAssertEqual(panels.map(\.name), ["context", "calibration", "before", "question"])
        try checkCounts(png, panels, [context, found, zip(context, found).map { $0 + $1 }, question],
                        heads: t.heads, layers: t.layers)
    }

    private func checkCounts(_ png: Canvas, _ panels: [PanelInfo], _ maps: [[Float]], heads H: Int, layers L: Int,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let hi = maps.joined().max() ?? 0
        let map = Colormap(name: "r", colors: Colormap.magma.colors.reversed())
        let scale = ColorScale(colormap: map, vmin: 0, vmax: max(1, Double(hi)))
        XCTAssertEqual(panels.count, maps.count, file: file, line: line)
        for (p, m) in zip(panels, maps) {
            for l in 0..<L { for h in 0..<H {
                let cell = p.cell(row: l, col: h)
                XCTAssertEqual(png[cell.x, cell.y], scale.color(m[l * H + h]), "\(p.name) layer \(l) head \(h): \(m[l * H + h])",
                               file: file, line: line)
            } }
        }
    }

    // MARK: chunks

    func testChunksMarksKeptChunksAndTheNeedle() throws {
        let trace = try PlotFixture.trace(.plain)
        let out = try PlotFixture.tempDir("chunks") + "/c.png"
        let r = try PlotFixture.run(["plot", "chunks", "--trace", trace, "--out", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let info = try r.json()
        let png = try PNG.read(out)
        XCTAssertEqual(png.width, info["width"] as? Int)
        XCTAssertEqual(png.height, info["height"] as? Int)
        let plot = try XCTUnwrap(info.rect("plot"))
        let t = try TraceValues(trace)
        XCTAssertGreaterThanOrEqual(t.needleChunk, 0, "the test trace has a pass key")
        // x axis: chunks -0.5 ... C-0.5 over the plot width.
        func px(_ x: Double) -> Int {
            Int(Double(plot.x) + (x + 0.5) / Double(t.chunks) * Double(plot.width - 1) + 0.5)
        }
        // The needle's vertical line (2 px wide, so at least one column has its exact colour)
        // runs through most of the plot's height.
        let needle = Palette.color(1), nx = px(Double(t.needleChunk))
        var rows = 0
        for y in plot.y..<plot.maxY where (nx - 2...nx + 2).contains(where: { png[$0, y] == needle }) {
            rows += 1
        }
        XCTAssertGreaterThan(rows, plot.height / 2, "needle line")
        // A big kept-chunk dot at every kept chunk, none elsewhere.
        let nll = try t.doubles("input/chunk_nll")
        let lo = nll.min()!, hi = nll.max()!, pad = max(0.05, (hi - lo) * 0.12)
        for c in 0..<t.chunks {
            let y = Int(Double(plot.maxY - 1) - (nll[c] - (lo - pad)) / (hi - lo + 2 * pad) * Double(plot.height - 1) + 0.5)
            var green = 0
            for dy in -4...4 { for dx in -4...4 where png[px(Double(c)) + dx, y + dy] == Palette.color(2) { green += 1 } }
            if t.kept[c] { XCTAssertGreaterThan(green, 20, "kept chunk \(c) has no dot") }
            else { XCTAssertEqual(green, 0, "chunk \(c) is not kept but has a kept dot") }
        }
    }

    // MARK: svg

    func testSVGFormatWritesTheSameFigureAsVectors() throws {
        let trace = try PlotFixture.trace(.plain)
        let dir = try PlotFixture.tempDir("svg")
        let png = dir + "/layer1.png", svg = dir + "/vector/layer1.svg"
        let a = try PlotFixture.run(["plot", "layer", "1", "--trace", trace, "--out", png, "--json"])
        let b = try PlotFixture.run(["plot", "layer", "1", "--trace", trace, "--format", "svg", "--out", svg, "--json"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(b.status, 0, b.stderr)
        XCTAssertEqual(b.stderr, "wrote \(svg)\n")
        let (pi, si) = (try a.json(), try b.json())
        XCTAssertEqual(si["format"] as? String, "svg")
        XCTAssertEqual(pi["format"] as? String, "png")
        XCTAssertEqual(si["width"] as? Int, pi["width"] as? Int)
        XCTAssertEqual(si["height"] as? Int, pi["height"] as? Int)
        let panels = try si.panels()
        XCTAssertEqual(panels.map(\.plot), try pi.panels().map(\.plot))

        let image = try PNG.read(png)
        let doc = try SVGCells(path: svg)
        XCTAssertEqual(doc.size, "\(image.width)x\(image.height)")
        var checked = 0
        for p in panels {
            for r in 0..<p.rows {
                for c in 0..<p.cols {
                    // Off the centre: a cell big enough for it holds its value as text there (the
                    // PNG's pixels, the SVG's separate <text>).
                    let cell = p.cell(row: r, col: c), x = cell.x + max(1, cell.width / 6), y = cell.y + max(1, cell.height / 6)
                    XCTAssertEqual(doc.fill(x, y), image[x, y], "\(p.name) head \(r) chunk \(c)")
                    checked += 1
                }
            }
        }
        let t = try TraceValues(trace)
        XCTAssertEqual(checked, 6 * t.heads * t.chunks)
        // Labels are searchable text.
        XCTAssertTrue(doc.texts.contains("head"), "\(doc.texts)")
        XCTAssertTrue(doc.texts.contains("local: sink mass"), "\(doc.texts)")
        XCTAssertTrue(doc.texts.contains { $0.hasPrefix("Layer 1 attention bands") }, "\(doc.texts)")
    }

    func testFormatAndExtensionMistakesAreOneLineAndWriteNothing() throws {
        let trace = try PlotFixture.trace(.plain)
        let dir = try PlotFixture.tempDir("format")
        // A trace whose name ends in .svg: the SVG must not replace it.
        let svgTrace = dir + "/trace.svg"
        try FileManager.default.copyItem(atPath: trace, toPath: svgTrace)
        let before = try Data(contentsOf: URL(fileURLWithPath: svgTrace))
        let cases: [([String], String)] = [
            (["plot", "layer", "0", "--trace", trace, "--format", "jpg", "--out", dir + "/new0/f.jpg"], "'jpg' is invalid for '--format <format>'"),
            (["plot", "layer", "0", "--trace", trace, "--format", "svg", "--out", dir + "/new1/f.png"], "--out \(dir)/new1/f.png must end in .svg for --format svg (to write PNG, pass --format png)"),
            (["plot", "overview", "--trace", trace, "--out", dir + "/new2/f.svg"], "must end in .png for --format png (to write SVG, pass --format svg)"),
            (["plot", "chunks", "--trace", trace, "--format", "svg", "--out", dir + "/new3/figure"], "must end in .svg for --format svg"),
            (["plot", "sweep", "--sweep", trace, "--format", "svg", "-o", dir + "/new4/s.png"], "must end in .svg"),
            (["plot", "layer", "0", "--trace", svgTrace, "--format", "svg", "--out", svgTrace], "same file as the input --trace"),
        ]
        for (args, message) in cases {
            let r = try PlotFixture.run(args)
            XCTAssertNotEqual(r.status, 0, "\(args) succeeded")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(args): stderr is not one line: \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["trace.svg"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: svgTrace)), before)
    }

    // MARK: errors

    func testErrorsExitNonZeroWithOneLineAndWriteNothing() throws {
        let trace = try PlotFixture.trace(.plain)
        let dir = try PlotFixture.tempDir("errors")
        let bad = dir + "/not-a-trace.h5"
        try "hello".write(toFile: bad, atomically: true, encoding: .utf8)
        let fake = dir + "/fake.h5"
        try PlotFixture.writeTraceWithoutBandMass(fake)
        let cases: [([String], String)] = [
            (["plot", "layer", "99", "--trace", trace], "layer 99 is out of range"),
            (["plot", "profile", "--layer", "99", "--trace", trace], "layer 99 is out of range"),
            (["plot", "profile", "--layer", "0", "--head", "99", "--trace", trace], "head 99 is out of range"),
            (["plot", "profile", "--layer", "0", "--chunks", "0-99", "--trace", trace], "--chunks 0-99 is out of range"),
            (["plot", "overview", "--trace", dir + "/missing.h5"], "trace not found"),
            (["plot", "chunks", "--trace", bad], "not a biasprobe trace"),
            (["plot", "layer", "0", "--trace", fake], "has no dataset"),
            (["plot", "overview", "--trace", fake], "has no dataset"),
            (["plot", "outliers", "--trace", fake], "has no dataset"),
        ]
        for (n, (args, message)) in cases.enumerated() {
            let out = dir + "/new\(n)/figure.png"
            let r = try PlotFixture.run(args + ["--out", out])
            XCTAssertNotEqual(r.status, 0, "\(args) succeeded")
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "\(args): stderr is not one line: \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(message), "\(args): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(args) wrote \(out)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/new\(n)"), "\(args) created a folder")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["fake.h5", "not-a-trace.h5"])
    }
}

// MARK: - support

struct PlotTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

enum PlotFixture {
    enum Kind: String { case plain, calibrated }

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Every file the tests make lives under one folder per test process, removed at the end.
    static let root = NSTemporaryDirectory() + "biasprobe-plot-tests-\(getpid())"

    static func removeAll() {
        lock.lock(); defer { lock.unlock() }
        traces = [:]
        try? FileManager.default.removeItem(atPath: root)
    }

    static func tempDir(_ tag: String) throws -> String {
        let path = root + "/\(tag)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String

        func json() throws -> [String: Any] {
            guard let d = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any] else {
                throw PlotTestFailure("stdout is not a JSON object: \(stdout)")
            }
            return d
        }
    }

    /// Runs a command line in this process (CLI.run), in `cwd` when given.
    static func run(_ args: [String], cwd: String? = nil) throws -> Result {
        let r = try InProcess.run(args, cwd: cwd)
        return Result(status: r.status, stdout: r.stdout, stderr: r.stderr)
    }

    nonisolated(unsafe) private static var traces: [Kind: String] = [:]
    private static let lock = NSLock()

    /// A small trace of the tiny test model (1k tokens in chunks of 256, a pass key), made once
    /// per test run by the command under test; `.calibrated` adds the paper's calibration. The
    /// figures are checked against the trace's own values, so any model's trace serves.
    static func trace(_ kind: Kind) throws -> String {
        lock.lock(); defer { lock.unlock() }
        if let t = traces[kind] { return t }
        let model = try TinyModel.path()
        let path = try tempDir("trace") + "/\(kind.rawValue).h5"
        var args = ["trace", "--model", model, "--context", "1k", "--chunk-tokens", "256", "--max-tokens", "4",
                    "--no-prefill-rows", "--quiet", "--out", path]
        if kind == .calibrated { args += ["--calibration", "paper@query"] }   // the question-stage panels
        let r = try run(args)
        guard r.status == 0, FileManager.default.fileExists(atPath: path) else {
            throw PlotTestFailure("biasprobe \(args.joined(separator: " ")) failed (\(r.status)): \(r.stderr)")
        }
        traces[kind] = path
        return path
    }

    /// A file that passes the trace checks (format, version, complete, sizes, chunk_kept) but
    /// has none of the attention datasets.
    static func writeTraceWithoutBandMass(_ path: String) throws {
        let f = try H5File.create(path: path)
        try f.setAttribute("format", "biasprobe-trace")
        try f.setAttribute("format_version", 1)
        try f.setAttribute("complete", 1)
        for (k, v) in [("layers", 2), ("heads", 2), ("chunks", 2), ("document_tokens", 100), ("needle_chunk", -1), ("last_rows", 8)] {
            try f.setAttribute(k, v)
        }
        _ = try f.writeDataset("input/chunk_kept", [UInt8(1), 0])
        _ = try f.writeDataset("input/chunk_nll", [2.5, 3.0])
        try f.close()
    }
}

/// Values read straight from a trace with HDF5Bridge, independently of the command.
struct TraceValues {
    let file: H5File
    let layers: Int, heads: Int, chunks: Int, needleChunk: Int, lastRows: Int
    let kept: [Bool]

    init(_ path: String) throws {
        let file = try H5File.open(path: path, readOnly: true)
        self.file = file
        func int(_ n: String) throws -> Int { Int(try file.attribute(n).intValue ?? -999) }
        layers = try int("layers"); heads = try int("heads"); chunks = try int("chunks")
        needleChunk = try int("needle_chunk"); lastRows = try int("last_rows")
        kept = try file.readDataset("input/chunk_kept", as: UInt8.self).values.map { $0 != 0 }
    }

    func floats(_ name: String) throws -> [Float] { try file.readDataset(name, as: Float.self).values }
    func doubles(_ name: String) throws -> [Double] { try file.readDataset(name, as: Double.self).values }
    func ints(_ name: String) throws -> [Int64] { try file.readDataset(name, as: Int64.self).values }

    /// Per (layer, head): keys of the combined cache and of the question whose mean score over
    /// the last rows exceeds lambda.
    func outliers(lambda: Double) throws -> (context: [Float], question: [Float]) {
        let (scores, shape) = try file.readDataset("global/key_scores", as: Float.self)
        let K = shape[2]
        let S = Int(try ints("input/combined_span").last!)
        var context = [Float](repeating: 0, count: layers * heads), question = context
        for i in 0..<(layers * heads) {
            for k in 0..<K where Double(scores[i * K + k]) / Double(lastRows) > lambda {
                if k < S { context[i] += 1 } else { question[i] += 1 }
            }
        }
        return (context, question)
    }
}

/// One heatmap panel as `--json` reports it.
struct PanelInfo {
    let name: String
    let plot: Rect
    let rows: Int, cols: Int

    /// The same tiling as Heatmap's PanelLayout.cellRect: cells cover the plot exactly.
    func cell(row: Int, col: Int) -> Rect {
        let x0 = (col * plot.width + cols - 1) / cols, x1 = ((col + 1) * plot.width + cols - 1) / cols
        let y0 = (row * plot.height + rows - 1) / rows, y1 = ((row + 1) * plot.height + rows - 1) / rows
        return Rect(x: plot.x + x0, y: plot.y + y0, width: x1 - x0, height: y1 - y0)
    }
}

extension Dictionary where Key == String, Value == Any {
    func rect(_ key: String) -> Rect? {
        guard let d = self[key] as? [String: Int], let x = d["x"], let y = d["y"], let w = d["width"], let h = d["height"] else { return nil }
        return Rect(x: x, y: y, width: w, height: h)
    }

    func panels() throws -> [PanelInfo] {
        guard let list = self["panels"] as? [[String: Any]] else { throw PlotTestFailure("no panels in the JSON") }
        return try list.map { p in
            guard let plot = p.rect("plot"), let rows = p["rows"] as? Int, let cols = p["cols"] as? Int else {
                throw PlotTestFailure("bad panel \(p)")
            }
            return PanelInfo(name: p["name"] as? String ?? "", plot: plot, rows: rows, cols: cols)
        }
    }
}

/// What the CLI tests read from an SVG: its size, the heatmap cells' rectangles and every text.
final class SVGCells: NSObject, XMLParserDelegate {
    private(set) var size = ""
    private(set) var cells: [(Rect, RGBA)] = []
    private(set) var texts: [String] = []
    private var inCells = false, inText = false

    init(path: String) throws {
        super.init()
        let parser = try XMLParser(data: Data(contentsOf: URL(fileURLWithPath: path)))
        parser.delegate = self
        guard parser.parse() else { throw PlotTestFailure("\(path) is not well-formed XML: \(String(describing: parser.parserError))") }
    }

    /// The colour of the cell rectangle covering pixel (x, y), if any.
    func fill(_ x: Int, _ y: Int) -> RGBA? { cells.last { $0.0.contains(x: x, y: y) }?.1 }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes a: [String: String] = [:]) {
        let int = { (k: String) in Int(a[k] ?? "") ?? -1 }
        switch name {
        case "svg": size = "\(a["width"] ?? "?")x\(a["height"] ?? "?")"
        case "g": inCells = a["class"] == "cells"
        case "text": inText = true; texts.append("")
        case "rect" where inCells:
            let hex = UInt32((a["fill"] ?? "").dropFirst(), radix: 16) ?? 0
            cells.append((Rect(x: int("x"), y: int("y"), width: int("width"), height: int("height")), RGBA(hex: hex)))
        default: break
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { if inText { texts[texts.count - 1] += string } }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "g" { inCells = false }
        if name == "text" { inText = false }
    }
}
