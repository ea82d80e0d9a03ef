/// Which keys each new row of a forward pass may attend to.
///
/// New rows are the tokens of the forward pass; their keys are appended to the cache first, so
/// row r sits at key index `firstRowKey + r`. Each segment is a run of rows that sees the keys
/// `[keyStart, ownKey]`: a chunk's rows see only their own chunk (keyStart = chunk start), query
/// rows see everything before them (keyStart = 0). One segment with keyStart 0 is plain causal
/// attention. Every row sees its own key, so no row is ever empty.
public struct AttentionLayout: Sendable, Equatable {
    public struct Segment: Sendable, Equatable {
        public var rows: Range<Int>
        public var keyStart: Int
        public init(rows: Range<Int>, keyStart: Int) { self.rows = rows; self.keyStart = keyStart }
    }
    public var segments: [Segment]
    public init(segments: [Segment]) { self.segments = segments }

    /// Plain causal attention over everything in the cache.
    public static func causal(rows: Int) -> AttentionLayout { AttentionLayout(segments: [Segment(rows: 0..<rows, keyStart: 0)]) }

    public var rowCount: Int { segments.map(\.rows.upperBound).max() ?? 0 }
}

/// The stage of the ParallelComp pipeline an attention pass belongs to; the raw values are the
/// stable names used in traces and on the command line.
public enum AttentionStage: String, Sendable, CaseIterable, Codable {
    /// A chunk (plus the question) prefilled on its own: local attention.
    case local
    /// The question prefilled over the combined cache of the kept chunks: global attention.
    case global
    /// One generated token at a time.
    case decode
}

/// How the rows and keys of a forward pass map onto document chunks and the query, so observers
/// can bin probabilities by chunk without knowing the pipeline.
public struct ObservationScope: Sendable {
    public var stage: AttentionStage
    /// Key ranges (in the cache's key index space) of the document chunks, in order.
    public var chunkSpans: [Range<Int>]
    /// Chunk number (in the document) of each span; observers index their outputs by it.
    public var chunkIDs: [Int]
    /// Keys at or after this index belong to the query (question and generated tokens).
    public var queryKeyStart: Int
    /// Key index of the first query row of this pass (rows before it are chunk context rows).
    public var queryRowStart: Int
    /// Number of query rows in this pass.
    public var queryRowCount: Int
    /// Key index of the pass's first row.
    public var firstRowKey: Int

    public init(stage: AttentionStage, chunkSpans: [Range<Int>], chunkIDs: [Int], queryKeyStart: Int,
                queryRowStart: Int, queryRowCount: Int, firstRowKey: Int) {
        self.stage = stage; self.chunkSpans = chunkSpans; self.chunkIDs = chunkIDs
        self.queryKeyStart = queryKeyStart; self.queryRowStart = queryRowStart
        self.queryRowCount = queryRowCount; self.firstRowKey = firstRowKey
    }

    /// The chunk span index holding key `k`, if any.
    public func spanIndex(ofKey k: Int) -> Int? {
        var lo = 0, hi = chunkSpans.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if chunkSpans[mid].upperBound <= k { lo = mid + 1 } else { hi = mid }
        }
        return lo < chunkSpans.count && chunkSpans[lo].contains(k) ? lo : nil
    }
}
