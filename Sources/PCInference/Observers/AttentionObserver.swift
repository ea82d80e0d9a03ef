/// What an observer receives: one block of rows of one (layer, query head), holding the exact
/// softmax probabilities the kernel is about to multiply with V.
///
/// Column j of `probs` is key `keyStart + j`; row i is the row at key index `firstRow + i` and
/// its probabilities are valid for columns `0 ..< visibleKeys(i)` (later columns are zero).
public struct AttentionBlock {
    public let layer: Int
    public let head: Int
    /// Index of the worker thread: observers keep one accumulator per worker, so they need no locks.
    public let worker: Int
    public let scope: ObservationScope
    /// True when every row of the block is a query row (false: every row is a chunk context row).
    public let isQuery: Bool
    public let firstRow: Int
    public let rowCount: Int
    public let keyStart: Int
    public let probs: UnsafePointer<Float>
    public let ld: Int
    /// Per-row entropy in nats, when some observer asked for it (else nil).
    public let entropy: UnsafePointer<Float>?
    /// Per-row largest probability.
    public let maxProb: UnsafePointer<Float>

    @inline(__always) public func visibleKeys(_ i: Int) -> Int { firstRow + i + 1 - keyStart }
    /// The keys row i holds columns for, clipped to `keys`: on a sliding-window layer a block
    /// starts at the window, so a chunk may begin before the row's first column (those keys
    /// have probability 0 and no column).
    @inline(__always) public func scoredKeys(_ i: Int, in keys: Range<Int>) -> Range<Int> {
        let lo = max(keys.lowerBound, keyStart), hi = min(keys.upperBound, keyStart + visibleKeys(i))
        return lo < hi ? lo..<hi : lo..<lo
    }
    @inline(__always) public func row(_ i: Int) -> UnsafePointer<Float> { probs + i * ld }
    /// Index of row i among the pass's query rows (0-based), for query blocks.
    @inline(__always) public func queryIndex(_ i: Int) -> Int { firstRow + i - scope.queryRowStart }
}

/// Receives attention reductions from inside the kernel. With no observer attached the kernel
/// does no extra work; an observer pays only for the rows it asks for.
public protocol AttentionObserver: AnyObject, Sendable {
    /// Called before a pass; return false to receive nothing from it.
    func begin(scope: ObservationScope, workers: Int) -> Bool
    /// Whether rows of this kind in this pass are wanted (checked per block).
    func wants(isQuery: Bool) -> Bool
    /// Whether the kernel should compute row entropies for this observer.
    var needsEntropy: Bool { get }
    func observe(_ block: AttentionBlock)
    /// Called after the pass: fold per-worker partial results.
    func end()
    /// Whether the observer may want the chunk prefills (local stage). When none does, the
    /// pipeline is free to skip chunk passes whose score it already knows.
    var watchesChunkPasses: Bool { get }
}

public extension AttentionObserver {
    var needsEntropy: Bool { false }
    func end() {}
    var watchesChunkPasses: Bool { true }
}

/// An observer of one stage's passes. Its `begin` is the one guard every such observer shares:
/// decline the other stages' passes, else `start` (size and zero the accumulators).
public protocol StageObserver: AttentionObserver {
    var stage: AttentionStage { get }
    /// Called before each pass of `stage`.
    func start(scope: ObservationScope, workers: Int)
}

public extension StageObserver {
    func begin(scope: ObservationScope, workers: Int) -> Bool {
        guard scope.stage == stage else { return false }
        start(scope: scope, workers: workers)
        return true
    }
}

extension AttentionBlock {
    /// The per-key score loop every key-score observer shares: for each row of the block at key
    /// index `fromRow` or later (the last r rows of a pass), add its probabilities into
    /// `keyRow[key]` for the keys it sees below `keyCount`. `keyRow` is one (layer, head)'s
    /// accumulator over keys 0 ..< keyCount.
    @inlinable public func addKeyMass<E: BinaryFloatingPoint>(fromRow: Int, into keyRow: UnsafeMutablePointer<E>, keyCount: Int) {
        let dst = keyRow + keyStart
        for i in min(rowCount, max(0, fromRow - firstRow))..<rowCount {
            let p = row(i), n = min(visibleKeys(i), keyCount - keyStart)
            for k in 0..<n { dst[k] += E(p[k]) }
        }
    }
}
