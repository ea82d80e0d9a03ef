import ArgumentParser
import Foundation
import Heatmap
import PCInference
import ProbeAnalysis

/// `biasprobe plot ...`: PNG or SVG figures of a trace, drawn with the Heatmap library.
struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw PNG or SVG figures of a trace: one layer's bands, the whole network, positional profiles, outliers, chunk scores.",
        discussion: """
        Every figure reads a trace written by `biasprobe trace` (--trace, default trace.h5) and writes \
        one PNG, or with --format svg one SVG with text and lines as vectors (--out, default a \
        descriptive name under outputs/, whose folder is created; its extension must match the format). The file \
        appears only when the whole figure could be drawn; any error (layer or head out of range, a \
        dataset the trace lacks, an unreadable trace) leaves no file and exits non-zero. The written \
        path is printed on stderr; --json also prints the figure's layout (panel rectangles and \
        colour scale) on stdout, for scripts and tests.

        Bands: each chunk's sink (its first S keys), recent (its last R keys) and middle (the rest), \
        S and R as recorded in the trace. Stages: local = each chunk prefilled alone with the \
        question; global = the question over the combined cache of the kept chunks.
        """,
        subcommands: [PlotLayer.self, PlotOverview.self, PlotProfile.self, PlotOutliers.self, PlotChunks.self, PlotSweep.self, PlotPolicies.self])
}

/// Input and output options shared by every figure.
struct PlotOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The trace to plot.", valueName: "file")) var trace = "trace.h5"
    @Option(name: [.short, .long], help: ArgumentHelp("Figure file to write, ending in .png or .svg as --format says (default: a descriptive name under outputs/).", valueName: "file"))
    var out: String?
    @Option(help: ArgumentHelp("png (raster) or svg (vectors, for papers).", valueName: "format")) var format: ImageFormat = .png
    @Option(help: ArgumentHelp("Figure width in pixels (default: fitted to the figure).", valueName: "px")) var width: Int?
    @Option(help: ArgumentHelp("Figure height in pixels (default: fitted to the figure).", valueName: "px")) var height: Int?
    @Flag(help: "Print the figure's layout as JSON on stdout: file, size, panel rectangles, colour scale.") var json = false

    func validate() throws {
        if let w = width, !(200...8000).contains(w) { throw ValidationError("--width must be between 200 and 8000") }
        if let h = height, !(150...8000).contains(h) { throw ValidationError("--height must be between 150 and 8000") }
        // Before the trace is read: never write over the trace, a device or a folder.
        if let out {
            try OutputFile.check(out, option: "--out", inputs: [("--trace", trace)], createsFolder: true)
            try PlotOutput.checkExtension(out, format: format)
        }
    }
}

/// The parts of a trace every figure needs, read once and checked.
struct PlotTrace {
    let reader: TraceReader
    let path: String
    let model: String
    let layers: Int, heads: Int, chunks: Int
    let documentTokens: Int
    let needleChunk: Int
    let kept: [Bool]
    /// Per layer, "local" (sliding window) or "global"; empty for traces written before the
    /// attribute existed (every layer global then).
    let layerKinds: [String]
    /// Per layer, a local layer's window (0 on global layers).
    let windows: [Int]

    init(path: String) throws {
        let t = try TraceReader(path: path)
        reader = t
        self.path = path
        model = t.string("model_name").isEmpty ? "unnamed model" : t.string("model_name")
        layers = try t.int("layers"); heads = try t.int("heads"); chunks = try t.int("chunks")
        guard layers > 0, heads > 0, chunks > 0 else {
            throw CLIError("\(path): trace has \(layers) layers, \(heads) heads, \(chunks) chunks; nothing to plot")
        }
        documentTokens = try t.int("document_tokens")
        needleChunk = try t.int("needle_chunk")
        let k = try t.bytes("input/chunk_kept")
        guard k.count == chunks else { throw CLIError("\(path): input/chunk_kept has \(k.count) entries, expected \(chunks) chunks") }
        kept = k.map { $0 != 0 }
        let kinds = try? t.file.attribute("layer_kind").stringsValue
        layerKinds = kinds?.count == layers ? kinds! : []
        let w = try? t.file.attribute("attention_window").intsValue
        windows = w?.count == layers ? w!.map { Int($0) } : Array(repeating: 0, count: layers)
    }

    /// Whether the model mixes sliding-window and global layers (figures then mark each layer).
    var mixesLayerKinds: Bool { layerKinds.contains("local") && layerKinds.contains("global") }

    /// Layer tick labels: "5G" for a global layer, "4" for a local one, when the model mixes them.
    var layerLabels: [String] {
        (0..<layers).map { l in mixesLayerKinds && layerKinds[l] == "global" ? "\(l)G" : "\(l)" }
    }

    /// "sliding window 512" or "global" for a layer, when the model mixes kinds; else nil.
    func layerKind(_ l: Int) -> String? {
        guard mixesLayerKinds else { return nil }
        return layerKinds[l] == "local" ? "sliding window \(windows[l])" : "global"
    }

    /// A subtitle line explaining the layer marks, or nil.
    var layerKindLegend: String? {
        guard mixesLayerKinds else { return nil }
        let g = (0..<layers).filter { layerKinds[$0] == "global" }.map(String.init).joined(separator: ", ")
        let w = Set(windows.filter { $0 > 0 }).sorted().map(String.init).joined(separator: "/")
        return "Layers marked G (\(g)) attend globally; the others through a sliding window of \(w) positions."
    }

    var keptIDs: [Int] { kept.indices.filter { kept[$0] } }

    /// "Smollm2 135M ..., 16369 tokens": the model and context length, for titles.
    var context: String { "\(model), \(documentTokens) tokens" }

    /// Chunk tick labels: "4*" for a kept chunk, "N" appended for the needle's chunk.
    var chunkLabels: [String] {
        (0..<chunks).map { c in "\(c)" + (kept[c] ? "*" : "") + (c == needleChunk ? "N" : "") }
    }

    /// "(* kept, N needle)" explaining the chunk labels.
    var chunkLegend: String {
        needleChunk >= 0 && needleChunk < chunks ? "chunk (* kept, N needle)" : "chunk (* kept)"
    }

    func checkLayer(_ l: Int) throws {
        guard (0..<layers).contains(l) else {
            throw CLIError("layer \(l) is out of range: \(path) has layers 0...\(layers - 1)")
        }
    }

    func checkHead(_ h: Int) throws {
        guard (0..<heads).contains(h) else {
            throw CLIError("head \(h) is out of range: \(path) has heads 0...\(heads - 1)")
        }
    }

    /// A float32 dataset whose shape must start with `prefix` and have `rank` axes.
    func floats(_ name: String, shape expected: [Int?]) throws -> ([Float], [Int]) {
        let (v, shape) = try reader.floats(name)
        let ok = shape.count == expected.count && zip(shape, expected).allSatisfy { $1 == nil || $0 == $1 }
        guard ok, v.count == shape.reduce(1, *) else {
            let want = expected.map { $0.map(String.init) ?? "n" }.joined(separator: ", ")
            throw CLIError("\(path): \(name) has shape \(shape), expected [\(want)]")
        }
        return (v, shape)
    }

    /// An int64 (layer, head) dataset.
    func layerHeadInts(_ name: String) throws -> [Int64] {
        let v = try reader.ints(name)
        guard v.count == layers * heads else {
            throw CLIError("\(path): \(name) has \(v.count) values, expected \(layers) x \(heads)")
        }
        return v
    }

    /// One line naming what changed the caches before the global pass (compression,
    /// calibration), or nil for plain ParallelComp.
    var pipelineNote: String? {
        guard let c = config else { return nil }
        var parts: [String] = []
        if let comp = c.compression {
            parts.append(comp.stage == .chunk ? "SnapKV compression to \(comp.capacity) context keys per chunk and head"
                                              : "one SnapKV compression after the question (capacity \(comp.capacity))")
        }
        if !c.calibration.isEmpty {
            let text = c.calibration.map { r in
                "\(r.band.rawValue) in layers \(r.layers.lowerBound)-\(r.layers.upperBound) @\(r.stage.rawValue)"
            }.joined(separator: ", ")
            parts.append("calibration (\(text), lambda \(NumberFormat.compact(Double(c.lambda))))")
        }
        return parts.isEmpty ? nil : "This run used " + parts.joined(separator: " and ") + "."
    }

    /// Appends the pipeline note, if any, as a last subtitle line.
    func withPipelineNote(_ subtitle: String) -> String {
        pipelineNote.map { subtitle + "\n" + $0 } ?? subtitle
    }

    /// The trace's pipeline configuration (config_json), decoded as the pipeline's own type
    /// (missing keys take their defaults, so older traces load); nil if it cannot be read.
    var config: ParallelCompConfig? {
        let text = reader.string("config_json")
        guard !text.isEmpty else { return nil }
        return try? JSONCoding.decode(ParallelCompConfig.self, from: text)
    }
}

/// The stages and bands as the figures name them.
enum PlotNames {
    static let bands = TraceSchema.bands
    static func bandDescription(sink: Int, recent: Int) -> String {
        "sink = each chunk's first \(sink) keys, recent = its last \(recent), middle = the rest"
    }
}

/// Renders a figure and writes it: nothing is written unless every step succeeded.
enum PlotOutput {
    static func write(_ figure: Figure, options: PlotOptions, defaultName: String, scale: ColorScale? = nil,
                      panelNames: [String] = []) throws {
        try write(figure, path: options.out ?? "outputs/\(defaultName).\(options.format.rawValue)", format: options.format,
                  json: options.json, scale: scale, panelNames: panelNames, inputs: [("--trace", options.trace)])
    }

    /// One line when `--out`'s extension does not name `format` (checked before any work).
    static func checkExtension(_ out: String, format: ImageFormat) throws {
        let named = ImageFormat(pathExtension: out)
        guard named != format else { return }
        let hint = named.map { " (to write \($0.rawValue.uppercased()), pass --format \($0.rawValue))" } ?? ""
        throw ValidationError("--out \(out) must end in .\(format.rawValue) for --format \(format.rawValue)\(hint)")
    }

    static func write(_ figure: Figure, path: String, format: ImageFormat, json: Bool, scale: ColorScale? = nil,
                      panelNames: [String] = [], inputs: [OutputFile.Input]) throws {
        try OutputFile.check(path, option: "--out", inputs: inputs, createsFolder: true)
        let (drawing, layout) = figure.draw()
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) {
                guard isDir.boolValue else { throw CLIError("cannot write \(path): \(dir) is not a folder") }
            } else {
                do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
                catch { throw CLIError("cannot create folder \(dir) for \(path)") }
            }
        }
        do { try drawing.write(to: path, format: format) } catch { throw CLIError("\(error)") }
        Log.info("wrote \(path)")
        guard json else { return }
        try JSONOut.emit(FigureLayout(
            out: path, format: format.rawValue, width: drawing.width, height: drawing.height,
            panels: layout.panels.enumerated().map { i, p in .init(name: i < panelNames.count ? panelNames[i] : "", plot: p.plot, rows: p.rows, cols: p.cols) },
            scale: scale.map { .init(colormap: $0.colormap.name, vmin: $0.vmin, vmax: $0.vmax, mapping: $0.mapping == .log ? "log" : "linear") },
            colorBar: layout.colorBar?.bar, plot: layout.plot, legend: layout.legend))
    }

    /// Width that fits the title (scale-2 font) with padding, at least `minimum`.
    static func width(fitting title: String, subtitle: String?, minimum: Int) -> Int {
        let lines = (subtitle ?? "").split(separator: "\n").map(String.init)
        let need = max(BitmapFont.measure(title, style: .title).width, BitmapFont.maxWidth(lines)) + 40
        return max(minimum, need)
    }

    /// Extra height taken by a subtitle of `text`'s lines.
    static func subtitleHeight(_ text: String?) -> Int {
        guard let t = text else { return 0 }
        return t.split(separator: "\n", omittingEmptySubsequences: false).count * BitmapFont.lineHeight + 6
    }
}

extension ImageFormat: ExpressibleByArgument {}

/// The shared colour scale of band-mass maps: 0 to the largest finite value (at least 1e-6).
func massScale(_ values: [Float], log: Bool) -> ColorScale {
    var hi = 0.0, minPositive = Double.infinity
    for v in values where v.isFinite {
        hi = max(hi, Double(v))
        if v > 0 { minPositive = min(minPositive, Double(v)) }
    }
    if log {
        let lo = minPositive.isFinite ? max(minPositive, hi * 1e-4) : 1e-4
        return ColorScale(colormap: .viridis, vmin: lo, vmax: max(hi, lo * 10), mapping: .log)
    }
    return ColorScale(colormap: .viridis, vmin: 0, vmax: max(hi, 1e-6))
}

/// `plot ... --json`: where everything went in the figure, in pixels.
struct FigureLayout: Encodable {
    struct Panel: Encodable { var name: String, plot: Rect, rows: Int, cols: Int }
    struct Scale: Encodable { var colormap: String, vmin: Double, vmax: Double, mapping: String }
    var out: String, format: String, width: Int, height: Int
    var panels: [Panel]
    var scale: Scale?
    var colorBar: Rect?, plot: Rect?, legend: Rect?
    enum CodingKeys: String, CodingKey { case out, format, width, height, panels, scale, colorBar = "color_bar", plot, legend }
}
