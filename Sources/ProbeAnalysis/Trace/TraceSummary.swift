import PCInference
/// What `biasprobe inspect` reads of a trace for its summary. Every array is read through
/// `TraceReader.read`, which checks its shape against the layer, head and chunk counts, so the
/// indexing below stays inside the arrays whatever the file holds.
public struct TraceSummary {
    public let layers: Int, heads: Int, chunks: Int
    public let chunkNLL: [Double], chunkKept: [UInt8], chunkLength: [Int64]
    /// global/band_mass, [layers, heads, chunks, band].
    public let globalBandMass: [Float]

    public init(_ t: TraceReader) throws {
        layers = try t.int("layers"); heads = try t.int("heads"); chunks = try t.int("chunks")
        chunkNLL = try t.doubles("input/chunk_nll")
        chunkKept = try t.bytes("input/chunk_kept")
        chunkLength = try t.ints("input/chunk_length")
        globalBandMass = try t.floats("global/band_mass").0
    }

    /// Heads ranked by their global mass on `band` (0 sink, 1 middle, 2 recent), summed over the
    /// kept chunks (NaN = not kept): the `top` strongest as (layer, head, mass).
    public func ranking(band: Int, top: Int) -> [(layer: Int, head: Int, mass: Double)] {
        let (L, H, C) = (layers, heads, chunks)
        var out: [(layer: Int, head: Int, mass: Double)] = []
        for l in 0..<L { for h in 0..<H {
            var s = 0.0
            for c in 0..<C { let v = globalBandMass[Shape(L, H, C, 3)(l, h, c, band)]; if !v.isNaN { s += Double(v) } }
            out.append((l, h, s))
        } }
        return Array(out.sorted { $0.mass > $1.mass }.prefix(max(0, top)))
    }
}
