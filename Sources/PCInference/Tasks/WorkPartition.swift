/// Splits a work list into N disjoint, balanced shards, the same way on every machine.
///
/// Items are dealt in work-list order, each to the shard with the least estimated cost so far
/// (ties to the lowest shard). Whatever the order, this keeps the most and least loaded shards
/// within one item's cost of each other: when the item that tops the fullest shard was dealt,
/// that shard was the least loaded. Dealing in list order (not by decreasing cost) keeps equal
/// items round-robin, so a shard sees every grid point and examples in the same order as an
/// unsharded run, which is what the chunk-score memo rewards.
public enum WorkPartition {
    /// The shard (0..<shards) of every item. Costs must be finite and non-negative.
    public static func assign(costs: [Double], shards: Int) -> [Int] {
        precondition(shards >= 1, "at least one shard")
        var load = [Double](repeating: 0, count: shards)
        var out = [Int]()
        out.reserveCapacity(costs.count)
        for c in costs {
            precondition(c.isFinite && c >= 0, "item cost \(c)")
            var best = 0
            for s in 1..<shards where load[s] < load[best] { best = s }
            load[best] += c
            out.append(best)
        }
        return out
    }

    /// The items (indices into the work list) of shard `index` (0-based), in work-list order.
    public static func items(costs: [Double], shards: Int, index: Int) -> [Int] {
        assign(costs: costs, shards: shards).enumerated().filter { $0.element == index }.map(\.offset)
    }

    /// Estimated cost of one retrieval example, in token-equivalents of prefill: every context
    /// token passes through the weights once (the linear layers dominate a small model), each
    /// attends to about half its chunk, and the question runs again over the kept chunks.
    /// Only the ratio between items matters; docs/scaling.md compares it with measured times.
    public static func retrievalCost(contextTokens: Int, chunkTokens: Int, keepChunks: Int) -> Double {
        let attention = Double(chunkTokens) / 2 / 4096          // a 4K-token span costs about one more pass
        return Double(contextTokens) * (1 + attention) + Double(keepChunks * chunkTokens)
    }
}
