/// Keys and values of a run of consecutive tokens, for every layer:
/// K and V are each [layer][kvHead][capacity][headDim], post-RoPE keys.
/// Stored at KV-head granularity: query heads of a GQA group read the same block.
public final class KVBlock: @unchecked Sendable {
    public let layers: Int, kvHeads: Int, headDim: Int, capacity: Int
    public internal(set) var count = 0
    let k: UnsafeMutablePointer<Float>
    let v: UnsafeMutablePointer<Float>
    /// RoPE position of each token (sliding-window layers hide keys by position difference).
    /// Blocks filled directly default to positions 0, 1, 2, ….
    public let positions: UnsafeMutablePointer<Int32>

    public init(layers: Int, kvHeads: Int, headDim: Int, capacity: Int) {
        self.layers = layers; self.kvHeads = kvHeads; self.headDim = headDim; self.capacity = max(capacity, 1)
        let n = layers * kvHeads * self.capacity * headDim
        k = .allocate(capacity: n)
        v = .allocate(capacity: n)
        positions = .allocate(capacity: self.capacity)
        for i in 0..<self.capacity { positions[i] = Int32(truncatingIfNeeded: i) }
    }
    deinit { k.deallocate(); v.deallocate(); positions.deallocate() }

    public var bytes: Int { 2 * layers * kvHeads * capacity * headDim * 4 }

    @inline(__always) func keys(layer: Int, head: Int) -> UnsafeMutablePointer<Float> {
        k + ((layer * kvHeads + head) * capacity) * headDim
    }
    @inline(__always) func values(layer: Int, head: Int) -> UnsafeMutablePointer<Float> {
        v + ((layer * kvHeads + head) * capacity) * headDim
    }

    /// Copy T new tokens' K/V of one layer (rows of [T, kvHeads*headDim]) to positions count..<count+T.
    public func write(layer: Int, at start: Int, k src: UnsafePointer<Float>, v vsrc: UnsafePointer<Float>, rows: Int) {
        precondition(start + rows <= capacity, "KV block overflow")
        let kvDim = kvHeads * headDim
        for g in 0..<kvHeads {
            let kd = keys(layer: layer, head: g) + start * headDim
            let vd = values(layer: layer, head: g) + start * headDim
            for t in 0..<rows {
                (kd + t * headDim).update(from: src + t * kvDim + g * headDim, count: headDim)
                (vd + t * headDim).update(from: vsrc + t * kvDim + g * headDim, count: headDim)
            }
        }
    }
}

/// A contiguous run of a block's tokens that is part of a cache's key sequence.
public struct KVSlice: Sendable {
    public let block: KVBlock
    public let start: Int
    public var count: Int
}

/// The key/value sequence attention reads: an ordered list of block slices, so that chunk caches
/// can be combined (and their first token dropped) without copying. New tokens go to `tail`.
public final class KVCache: @unchecked Sendable {
    public let layers: Int, kvHeads: Int, headDim: Int, queryHeads: Int
    public private(set) var slices: [KVSlice] = []
    public private(set) var count = 0
    /// Per layer, per query head: 1 = key kept, 0 = evicted, 2 = evicted during the pass now
    /// running (see `EvictionAlignment`). nil = everything kept. Keys past a mask's length are
    /// kept (tokens added after the eviction).
    public private(set) var keepMasks: [[[UInt8]?]]
    /// Masks apply only to rows whose own key index is at least this (the `question` variant of
    /// chunk-stage calibration: the chunk's own context rows keep every key).
    public var maskRowStart = 0
    /// How rows of the running pass see keys evicted during it (marked 2 in the masks).
    public var alignment: EvictionAlignment = .bottomRight
    /// Whether any mask holds a 2 (so the kernel need not look when none does).
    public private(set) var hasPendingEvictions = false
    /// Slices below this index are shared with a fork or the cache it was forked from: this cache
    /// never writes into their blocks or shrinks them.
    private var sharedSlices = 0
    public init(config: ModelConfig) {
        layers = config.layerCount; kvHeads = config.kvHeadCount; headDim = config.headDim; queryHeads = config.headCount
        keepMasks = Array(repeating: Array(repeating: nil, count: config.headCount), count: config.layerCount)
    }

    private init(forking p: KVCache) {
        layers = p.layers; kvHeads = p.kvHeads; headDim = p.headDim; queryHeads = p.queryHeads
        slices = p.slices; count = p.count; keepMasks = p.keepMasks
        maskRowStart = p.maskRowStart; alignment = p.alignment; hasPendingEvictions = p.hasPendingEvictions
        sharedSlices = p.slices.count
    }

    /// A cache that starts as this one (its keys, values and masks, read in place, not copied) and
    /// then goes its own way: its evictions change only its own masks, and the keys it appends go
    /// to blocks of its own. So one prefilled context serves several forks that compress and
    /// decode side by side. From then on this cache, too, appends to new blocks only, so neither
    /// side can overwrite keys the other reads.
    public func fork() -> KVCache {
        sharedSlices = slices.count
        return KVCache(forking: self)
    }

    /// Append an existing block's tokens [start, start+count) to the key sequence (no copy).
    public func append(_ block: KVBlock, from start: Int = 0, count n: Int? = nil) {
        let c = n ?? (block.count - start)
        precondition(start >= 0 && c >= 0 && start + c <= block.count)
        guard c > 0 else { return }
        slices.append(KVSlice(block: block, start: start, count: c))
        count += c
    }

    /// Append a slice of another cache's block together with that cache's keep masks (indexed
    /// by the block's keys), so the combined cache owns what eviction left of each chunk.
    public func append(_ block: KVBlock, from start: Int, count n: Int, masks: [[[UInt8]?]]) {
        let offset = count
        append(block, from: start, count: n)
        for l in 0..<layers {
            for h in 0..<queryHeads {
                let src = masks[l][h]
                if src == nil && keepMasks[l][h] == nil { continue }
                var mk = keepMasks[l][h] ?? Array(repeating: 1, count: offset)
                if mk.count < offset { mk += Array(repeating: 1, count: offset - mk.count) }
                mk += src.map { m in (start..<(start + n)).map { $0 < m.count ? m[$0] : 1 } } ?? Array(repeating: 1, count: n)
                keepMasks[l][h] = mk
            }
        }
    }

    /// Append a block whose first `count` tokens were written directly (tests, synthetic caches).
    public func appendWhole(_ block: KVBlock, count n: Int) {
        block.count = n
        append(block, from: 0, count: n)
    }

    /// Rows of a block started by a one-token pass.
    public static let decodeBlockRows = 256

    /// Reserve room for `n` more tokens written by forward passes; returns the block they go to.
    public func reserve(_ n: Int) -> KVBlock {
        if slices.count > sharedSlices, let last = slices.last, last.start + last.count == last.block.count,
           last.block.capacity - last.block.count >= n {
            return last.block
        }
        // Decode appends one token a pass: give it room for the next ones too, so the keys stay in
        // one slice (attention walks slices; a slice per token made decode attention ~3x slower).
        let b = KVBlock(layers: layers, kvHeads: kvHeads, headDim: headDim, capacity: n == 1 ? KVCache.decodeBlockRows : n)
        slices.append(KVSlice(block: b, start: 0, count: 0))
        return b
    }

    /// Record that `rows` tokens were written at the end of the tail block (after all layers).
    public func commitAppend(_ rows: Int) {
        guard var last = slices.popLast() else { preconditionFailure("commit without reserve") }
        last.count += rows
        last.block.count = last.start + last.count
        slices.append(last)
        count += rows
    }

    /// Forget every key from `n` on (tokens appended for scoring, say), so later passes reuse the room.
    public func truncate(to n: Int) {
        precondition(n >= 0 && n <= count)
        var drop = count - n
        while drop > 0, var last = slices.popLast() {
            let d = min(drop, last.count)
            // Only a slice that ends at its block's end may shrink the block (others share it).
            let endsBlock = last.start + last.count == last.block.count && slices.count >= sharedSlices
            last.count -= d; drop -= d
            if endsBlock { last.block.count = last.start + last.count }
            if last.count > 0 { slices.append(last) }
        }
        count = n
        sharedSlices = min(sharedSlices, slices.count)
        for l in 0..<layers { for h in 0..<queryHeads { if let m = keepMasks[l][h], m.count > n { keepMasks[l][h] = Array(m.prefix(n)) } } }
    }

    /// Every key visible again to every head (the state of a cache no eviction has touched).
    public func clearMasks() {
        keepMasks = Array(repeating: Array(repeating: nil, count: queryHeads), count: layers)
        hasPendingEvictions = false
    }

    /// Set the keep mask of one layer and query head (length = keys covered).
    public func setKeepMask(layer: Int, head: Int, _ mask: [UInt8]) { keepMasks[layer][head] = mask }

    /// Evict keys for one layer and head (indices into the key sequence). `covering` extends the
    /// mask to that many keys (a pass's own keys are in the cache before `count` grows);
    /// `duringPass` marks them 2 (evicted while the pass runs) until `settleEvictions`.
    public func evict(layer: Int, head: Int, keys: [Int], covering total: Int? = nil, duringPass: Bool = false) {
        guard !keys.isEmpty else { return }
        let n = max(count, total ?? 0)
        var m = keepMasks[layer][head] ?? Array(repeating: 1, count: n)
        if m.count < n { m.append(contentsOf: Array(repeating: 1, count: n - m.count)) }
        for k in keys where k >= 0 && k < m.count { m[k] = duringPass ? 2 : 0 }
        keepMasks[layer][head] = m
        if duringPass { hasPendingEvictions = true }
    }
    /// Apply an eviction policy's selection to one layer: the one place where evictions become masks.
    public func evict(layer: Int, selection: EvictionSelection, covering total: Int? = nil, duringPass: Bool = false) {
        for (h, keys) in selection.evicted.enumerated() { evict(layer: layer, head: h, keys: keys, covering: total, duringPass: duringPass) }
    }

    /// Key `k`'s post-RoPE vector for one layer and KV head (slices are few: a linear walk).
    public func keyRow(layer: Int, kvHead: Int, key k: Int) -> UnsafePointer<Float> { row(k) { $0.keys(layer: layer, head: kvHead) } }

    /// Key `k`'s value vector for one layer and KV head.
    public func valueRow(layer: Int, kvHead: Int, key k: Int) -> UnsafePointer<Float> { row(k) { $0.values(layer: layer, head: kvHead) } }

    private func row(_ k: Int, _ base0: (KVBlock) -> UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        var base = 0
        for s in slices {
            if k < base + s.count { return UnsafePointer(base0(s.block) + (s.start + k - base) * headDim) }
            base += s.count
        }
        preconditionFailure("key \(k) outside the cache")
    }

    /// Whether key `k` is still seen by (layer, head): kept, or added after the mask was made.
    @inline(__always) public func isPresent(layer: Int, head: Int, key k: Int) -> Bool {
        guard let m = keepMasks[layer][head], k < m.count else { return true }
        return m[k] == 1
    }

    /// The keys of `range` that (layer, head) still sees, as eviction candidates: each with its
    /// position among the keys the official code would hold (those not evicted before, counting
    /// any evicted during the running pass, which its cache still holds until the pass ends).
    public func candidates(layer: Int, head: Int, in range: Range<Int>) -> [EvictionCandidate] {
        let m = keepMasks[layer][head] ?? []
        var position = (0..<range.lowerBound).filter { $0 >= m.count || m[$0] != 0 }.count
        var out: [EvictionCandidate] = []
        for k in range {
            let v: UInt8 = k < m.count ? m[k] : 1
            if v == 1 { out.append(.init(key: k, position: position)) }
            if v != 0 { position += 1 }
        }
        return out
    }

    /// Keys evicted during a pass are gone for good once it ends (the official code stores the
    /// shortened cache): later passes see them as plain evictions.
    public func settleEvictions() {
        guard hasPendingEvictions else { return }
        hasPendingEvictions = false
        for l in 0..<layers { for h in 0..<queryHeads where keepMasks[l][h]?.contains(2) == true {
            keepMasks[l][h] = keepMasks[l][h]!.map { $0 == 2 ? 0 : $0 }
        } }
    }
    public var hasMasks: Bool { keepMasks.contains { $0.contains { $0 != nil } } }

    /// Number of keys kept for (layer, head).
    public func keptCount(layer: Int, head: Int) -> Int {
        guard let m = keepMasks[layer][head] else { return count }
        return m.reduce(0) { $0 + ($1 == 1 ? 1 : 0) } + max(0, count - m.count)
    }

    public var bytes: Int { uniqueBlocks.reduce(0) { $0 + $1.bytes } }
    var uniqueBlocks: [KVBlock] {
        var seen = Set<ObjectIdentifier>(); var out: [KVBlock] = []
        for s in slices where seen.insert(ObjectIdentifier(s.block)).inserted { out.append(s.block) }
        return out
    }
}

/// How the rows of a pass see keys evicted during that same pass (calibration).
public enum EvictionAlignment: String, Codable, Sendable, CaseIterable {
    /// The official code: the shortened K/V goes to flash-attention's causal kernel, whose mask is
    /// aligned to the bottom-right corner. A row whose own key is x sees only the first
    /// (keys of its segment present up to x) - e surviving keys, counted from the segment's first
    /// key (also on sliding-window layers, where the window then hides the older ones), e = keys
    /// evicted in the pass; rows with none left output 0. The last row is unaffected; earlier rows
    /// lose their most recent keys.
    case bottomRight = "official"
    /// Clean variant: evicted keys are hidden; every other key stays visible where it is.
    case masked
}
