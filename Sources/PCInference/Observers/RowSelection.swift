/// Which rows of a pass an observer reduces.
public enum RowSelection: Sendable, Equatable, Codable {
    /// Every query row (question and generated tokens).
    case queryAll
    /// The last r query rows.
    case queryLast(Int)
    /// Every context row of every chunk: the within-chunk (prefill) profile.
    case context

    public var isQuery: Bool { if case .context = self { return false } else { return true } }

    /// Whether row i of a block is selected.
    @inline(__always) func contains(_ b: AttentionBlock, _ i: Int) -> Bool {
        switch self {
        case .queryAll: return true
        case .queryLast(let r): return b.queryIndex(i) >= b.scope.queryRowCount - r
        case .context: return true
        }
    }

    public var name: String {
        switch self {
        case .queryAll: return "query_all"
        case .queryLast(let r): return r == 1 ? "query_last" : "query_last\(r)"
        case .context: return "prefill"
        }
    }
}

/// How the keys of a row's own chunk are binned for context rows.
public enum ChunkBinning: String, Sendable, Codable {
    /// Bins by the chunk's full length: early rows cannot see the recent band.
    case absolute
    /// Row i bins the i+1 keys it can see as if they were the whole chunk.
    case relative
}

/// Per-worker partial sums folded into totals after each pass, so observers never lock. `Double`
/// for statistics summed over many passes; `Float` for per-pass key scores, whose selection
/// compares them as the official code does.
public final class WorkerAccumulator<Element: BinaryFloatingPoint>: @unchecked Sendable {
    public let shape: Shape
    /// Sums over every pass since creation (`end`), or of the last pass only (`endPass`).
    public private(set) var total: [Element]
    private var partial: [UnsafeMutablePointer<Element>] = []
    private var capacity = 0
    public private(set) var size: Int

    public init(_ shape: Shape) { self.shape = shape; size = shape.count; total = Array(repeating: 0, count: size) }
    deinit { partial.forEach { $0.deallocate() } }

    /// Zero every worker's partial sums before a pass; `size` lets a per-pass accumulator change
    /// its length (key scores follow the pass's key count).
    public func begin(workers: Int, size n: Int? = nil) {
        if let n { size = n }
        if size > capacity { partial.forEach { $0.deallocate() }; partial = []; capacity = size }
        while partial.count < workers { partial.append(.allocate(capacity: max(capacity, size))) }
        capacity = max(capacity, size)
        for p in partial { p.update(repeating: 0, count: size) }
    }
    @inline(__always) public func slot(_ worker: Int) -> UnsafeMutablePointer<Element> { partial[worker] }
    /// Add the pass's partial sums to the running totals.
    public func end() {
        if total.count != size { total = Array(repeating: 0, count: size) }
        for p in partial { for i in 0..<size where p[i] != 0 { total[i] += p[i] } }
    }
    /// Replace the totals with this pass's sums alone.
    public func endPass() {
        total = Array(repeating: 0, count: size)
        total.withUnsafeMutableBufferPointer { t in for p in partial { for i in 0..<size { t[i] += p[i] } } }
    }
}

extension AttentionBlock {
    /// The one row-slot rule observers count rows under: a context row's own chunk (nil outside
    /// every chunk), the chunk of a chunk pass's question rows, and `globalSlot` for the query
    /// rows of a global or decoding pass, which see every kept chunk at once.
    @inline(__always) public func rowSlot(_ i: Int, globalSlot: Int) -> Int? {
        if isQuery { return scope.stage == .local ? (scope.chunkIDs.first ?? 0) : globalSlot }
        guard let j = scope.spanIndex(ofKey: firstRow + i) else { return nil }
        return scope.chunkIDs[j]
    }
}
