/// PyramidKV: SnapKV's scoring with per-layer budgets that shrink with depth, because lower layers
/// spread attention widely and upper layers focus it. Cai et al., "PyramidKV: Dynamic KV Cache
/// Compression based on Pyramidal Information Funneling", 2024 (arXiv:2406.02069). The lab scores
/// with `SnapKVPolicy` (kvpress's 64 / 5 / average pool) and takes the budgets from `layerBudget`.
public enum PyramidKVPolicy {
    /// Keys kept in `layer` of `layers` out of `n` candidates when the mean budget is `mean` keys,
    /// following NVIDIA/kvpress `kvpress/presses/pyramidkv_press.py` (`get_layer_budget`): with
    /// C = mean (kvpress: q_len x (1 - compression_ratio)), the top layer keeps C / beta, the bottom
    /// 2C - C / beta (capped at n - window, the top raised to match), linear between, rounded half
    /// to even as Python's round; when that is infeasible (the top below the window), every layer
    /// keeps round(C) as SnapKV would.
    public static func layerBudget(layer: Int, layers L: Int, candidates n: Int, mean: Double, window w: Int, beta: Double) -> Int {
        var minNum = mean / beta, maxNum = 2 * mean - minNum
        if maxNum >= Double(n - w) { maxNum = Double(n - w); minNum = 2 * mean - maxNum }
        guard L > 1, Double(n) >= maxNum, maxNum >= minNum, minNum >= Double(w) else { return Int(mean.rounded(.toNearestOrEven)) }
        let steps = (maxNum - minNum) / Double(L - 1)
        return Int((maxNum - Double(layer) * steps).rounded(.toNearestOrEven))
    }
}
