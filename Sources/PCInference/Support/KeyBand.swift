/// The one band vocabulary: where a key sits in its chunk (sink: the first keys, recent: the
/// last, middle: the rest) or that it belongs to the question. The raw values are the names in
/// traces, reports and on the command line; `index` is a band's slot in [..., band] arrays.
public enum KeyBand: String, CaseIterable, Codable, Sendable {
    case sink, middle, recent, question

    /// The bands a chunk's own keys fall in.
    public static let chunkBands: [KeyBand] = [.sink, .middle, .recent]
    /// Their names, the `band` axis of traces and plots.
    public static let chunkBandNames = chunkBands.map(\.rawValue)

    @inline(__always) public var index: Int {
        switch self { case .sink: return 0; case .middle: return 1; case .recent: return 2; case .question: return 3 }
    }

    /// Whether candidate `i` of a chunk's `n` keys lies in this band, for band width w (the
    /// question band holds no candidate). Official edges leave keys w and n - w in no band
    /// (spec section 4.2); tiled edges make the three bands cover every key.
    public func contains(index i: Int, count n: Int, width w: Int, edges: ParallelCompConfig.BandEdges) -> Bool {
        switch (self, edges) {
        case (.question, _): return false
        case (.sink, _): return i < w
        case (.recent, .official): return i > n - w
        case (.middle, .official): return i > w && i < n - w
        case (.recent, .tiled): return i >= max(n - w, min(w, n))
        case (.middle, .tiled): return i >= min(w, n) && i < max(n - w, min(w, n))
        }
    }
}
