import Foundation
import PCInference

/// Mean attention each key receives from a pass's query rows (all of them, or the last r), per
/// (layer, head). Global passes fill slot 0 over [combined cache ; query]; local passes fill one
/// slot per chunk over [chunk ; query]. The claims need the per-key view because their bands
/// (template prefix, content sink, recent tail) are not the observers' fixed sink/middle/recent.
public final class QueryKeyMass: StageObserver, @unchecked Sendable {
    public let stage: AttentionStage
    public let lastRows: Int?
    public let layers: Int, heads: Int
    /// slot -> (keys, mean mass [lh * keys + key])
    public private(set) var tables: [Int: KeyTable] = [:]
    private let partial = WorkerAccumulator<Double>(Shape(0))
    private var slot = 0, keys = 0, rowsSeen = 0

    public init(stage: AttentionStage, lastRows: Int? = nil, layers: Int, heads: Int) {
        self.stage = stage; self.lastRows = lastRows; self.layers = layers; self.heads = heads
    }

    public func start(scope: ObservationScope, workers: Int) {
        slot = stage == .local ? (scope.chunkIDs.first ?? 0) : 0
        keys = scope.queryRowStart + scope.queryRowCount
        rowsSeen = min(lastRows ?? scope.queryRowCount, scope.queryRowCount)
        partial.begin(workers: workers, size: layers * heads * keys)
    }
    public func wants(isQuery: Bool) -> Bool { isQuery }
    public var watchesChunkPasses: Bool { stage == .local }

    public func observe(_ b: AttentionBlock) {
        let fromRow = b.scope.queryRowStart + b.scope.queryRowCount - rowsSeen
        b.addKeyMass(fromRow: fromRow, into: partial.slot(b.worker) + Shape(layers, heads, keys)(b.layer, b.head, 0), keyCount: keys)
    }

    public func end() {
        partial.endPass()
        let total = partial.total
        let n = Double(max(1, rowsSeen))
        tables[slot] = KeyTable(keys: keys, values: total.map { Float($0 / n) })
    }
}

/// Mean attention per (layer, head, key), flat [lh * keys + key].
public struct KeyTable: Sendable {
    public var keys: Int
    public var values: [Float]
    public init(keys: Int, values: [Float]) { self.keys = keys; self.values = values }
    public func sum(_ lh: Int, _ r: Range<Int>) -> Double {
        let lo = max(0, r.lowerBound), hi = min(keys, r.upperBound)
        guard lo < hi else { return 0 }
        var s = 0.0
        for k in lo..<hi { s += Double(values[lh * keys + k]) }
        return s
    }
    public func row(_ lh: Int) -> ArraySlice<Float> { values[(lh * keys)..<((lh + 1) * keys)] }
}

/// Mean attention at distance Δ = row − key (Δ = 0 ..< maxDistance) of local context rows, over
/// only the rows that reach every Δ without entering the chunk's first `skip` keys. Averaging
/// all rows that reach a Δ (as `DistanceProfileObserver` does) mixes short rows, whose every
/// probability is larger, into small Δ only: that bends the profile toward a power law.
///
/// A head's context rows come in several blocks that any worker may take, so per-worker sums
/// would add them in a run-dependent order (last-digit differences between runs). Each block's
/// sum is kept apart and folded in row order at the end: the same numbers on every run.
public final class FullReachProfile: StageObserver, @unchecked Sendable {
    public let stage = AttentionStage.local
    public let maxDistance: Int, skip: Int, layers: Int, heads: Int
    private let lock = NSLock()
    /// (lh, first row of the block) -> (sums over Δ, rows)
    private var blocks: [Int: [Int: (sums: [Double], rows: Double)]] = [:]
    public private(set) var sums: [Double], rows: [Double]

    public init(maxDistance: Int, skip: Int, layers: Int, heads: Int) {
        self.maxDistance = maxDistance; self.skip = skip; self.layers = layers; self.heads = heads
        sums = Array(repeating: 0, count: layers * heads * maxDistance); rows = Array(repeating: 0, count: layers * heads)
    }
    public func start(scope: ObservationScope, workers: Int) { blocks = [:] }
    public func wants(isQuery: Bool) -> Bool { !isQuery }

    public func observe(_ b: AttentionBlock) {
        let lh = b.layer * heads + b.head
        var acc = [Double](repeating: 0, count: maxDistance), n = 0.0
        for i in 0..<b.rowCount {
            let key = b.firstRow + i
            guard let j = b.scope.spanIndex(ofKey: key), key - (maxDistance - 1) >= b.scope.chunkSpans[j].lowerBound + skip else { continue }
            let p = b.row(i)
            for d in 0..<maxDistance where key - d >= b.keyStart { acc[d] += Double(p[key - d - b.keyStart]) }   // before keyStart: outside a window, 0
            n += 1
        }
        guard n > 0 else { return }
        lock.lock(); blocks[lh, default: [:]][b.firstRow] = (acc, n); lock.unlock()
    }
    public func end() {
        for (lh, byRow) in blocks {
            for r in byRow.keys.sorted() {
                let (s, n) = byRow[r]!
                for d in 0..<maxDistance { sums[lh * maxDistance + d] += s[d] }
                rows[lh] += n
            }
        }
        blocks = [:]
    }
    /// [lh][Δ] means; NaN for heads with no full-reach row.
    public func profile() -> [Double] {
        (0..<sums.count).map { rows[$0 / maxDistance] > 0 ? sums[$0] / rows[$0 / maxDistance] : .nan }
    }
}
