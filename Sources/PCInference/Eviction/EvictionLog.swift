/// What eviction removed: key counts per (layer, head), for traces and plots.
public struct EvictionLog: Codable, Sendable {
    public var layers: Int, heads: Int
    /// [layer * heads + head] keys evicted by calibration at the chunk stage (summed over chunks).
    public var calibrationChunk: [Int]
    /// ... at the question prefill.
    public var calibrationQuery: [Int]
    /// ... by per-chunk compression (summed over kept chunks).
    public var compression: [Int]
    /// ... by the one compression after the question prefill (`stage_eviction`), for decoding.
    public var stageCompression: [Int]
    /// ... during decoding (`kv_cache_dynamic`: one key per head and generated token).
    public var decode: [Int]
    /// Keys above lambda found by calibration, before head equalisation padding.
    public var outliersQuery: [Int]
    public var outliersChunk: [Int]

    public init(layers: Int, heads: Int) {
        self.layers = layers; self.heads = heads
        let z = Array(repeating: 0, count: layers * heads)
        calibrationChunk = z; calibrationQuery = z; compression = z; outliersQuery = z; outliersChunk = z
        stageCompression = z; decode = z
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        layers = try c.decode(Int.self, forKey: .layers); heads = try c.decode(Int.self, forKey: .heads)
        let z = Array(repeating: 0, count: layers * heads)
        func v(_ k: CodingKeys) throws -> [Int] { try c.decodeIfPresent([Int].self, forKey: k) ?? z }
        calibrationChunk = try v(.calibrationChunk); calibrationQuery = try v(.calibrationQuery)
        compression = try v(.compression); stageCompression = try v(.stageCompression); decode = try v(.decode)
        outliersQuery = try v(.outliersQuery); outliersChunk = try v(.outliersChunk)
    }
}
