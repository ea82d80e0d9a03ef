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

/// Per-worker accumulators folded into float64 totals after each pass: observers never lock.
final class WorkerAccumulator: @unchecked Sendable {
    let size: Int
    private(set) var total: [Double]
    private var partial: [UnsafeMutablePointer<Double>] = []

    init(size: Int) { self.size = size; total = Array(repeating: 0, count: size) }
    deinit { partial.forEach { $0.deallocate() } }

    func begin(workers: Int) {
        while partial.count < workers {
            let p = UnsafeMutablePointer<Double>.allocate(capacity: size)
            partial.append(p)
        }
        for p in partial { p.update(repeating: 0, count: size) }
    }
    @inline(__always) func slot(_ worker: Int) -> UnsafeMutablePointer<Double> { partial[worker] }
    func end() {
        for p in partial { for i in 0..<size where p[i] != 0 { total[i] += p[i] } }
    }
}
