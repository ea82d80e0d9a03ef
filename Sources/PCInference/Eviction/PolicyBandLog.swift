/// What a lab policy kept in each chunk pass, by band: the chunk's sink (its first `width`
/// candidates), middle, recent (its last `width`) and the question's keys (never evicted at the
/// chunk stage), with the attention mass the question rows put on the kept keys and on the whole
/// band before eviction.
/// Bands tile the candidates (`CalibrationBands`, tiled edges). Written to traces as
/// `eviction/policy_keys`, `eviction/policy_kept`, `eviction/policy_mass` and
/// `eviction/policy_band_mass`.
public struct PolicyBandLog: Codable, Sendable, Equatable {
    public typealias Band = KeyBand
    public var chunks: Int, layers: Int, heads: Int, width: Int
    /// [chunk, band]: keys in the band before eviction (-1: the chunk was not prefilled, its
    /// known score let the pipeline skip it).
    public var keys: [Int]
    /// [chunk, band, layer, head]: keys kept.
    public var kept: [Int]
    /// [chunk, band, layer, head]: the question rows' attention on the band's kept keys before
    /// eviction, averaged over rows.
    public var mass: [Float]
    /// [chunk, band, layer, head]: ... on all the band's keys (what eviction started from).
    public var bandMass: [Float]

    public init(chunks: Int, layers: Int, heads: Int, width: Int) {
        self.chunks = chunks; self.layers = layers; self.heads = heads; self.width = width
        let B = Band.allCases.count
        keys = Array(repeating: -1, count: chunks * B)
        kept = Array(repeating: 0, count: chunks * B * layers * heads)
        mass = Array(repeating: 0, count: chunks * B * layers * heads)
        bandMass = mass
    }

    public func index(chunk: Int, band: Band, layer: Int, head: Int) -> Int {
        Shape(chunks, Band.allCases.count, layers, heads)(chunk, band.index, layer, head)
    }

    /// The band of candidate position `i` of `n`.
    public func band(position i: Int, count n: Int) -> Band {
        KeyBand.sink.contains(index: i, count: n, width: width, edges: .tiled) ? .sink
            : KeyBand.recent.contains(index: i, count: n, width: width, edges: .tiled) ? .recent : .middle
    }

    /// Record one layer of one chunk pass: the candidates are keys `first ..< first + n`, the
    /// question's keys `first + n ..< first + n + m`; `scores[h]` the question rows' summed
    /// attention by key; `evicted[h]` the keys gone.
    public mutating func record(chunk c: Int, layer l: Int, first: Int, n: Int, m: Int, scores: [[Float]], evicted: [[Int]]) {
        let B = Band.allCases.count
        var count = [Int](repeating: 0, count: B)
        for i in 0..<n { count[band(position: i, count: n).index] += 1 }
        count[KeyBand.question.index] = m
        for b in 0..<B { keys[c * B + b] = count[b] }
        for h in 0..<heads {
            let gone = Set(evicted[h]), s = scores[h]
            func at(_ k: Int) -> Float { k < s.count ? s[k] / Float(max(1, m)) : 0 }
            for i in 0..<n {
                let x = index(chunk: c, band: band(position: i, count: n), layer: l, head: h)
                bandMass[x] += at(first + i)
                if !gone.contains(first + i) { kept[x] += 1; mass[x] += at(first + i) }
            }
            let q = index(chunk: c, band: .question, layer: l, head: h)
            kept[q] = m
            for k in (first + n)..<(first + n + m) { mass[q] += at(k) }
            bandMass[q] = mass[q]
        }
    }
}
