/// SnapKV as the lab runs it (`--policy snapkv | snapkv-kvpress | pc-snapkv | pyramidkv`): each
/// key's attention summed over the pass's last `window` rows (the observation window), smoothed
/// along the candidate sequence by a `kernel`-wide pool, and the keys of the window itself always
/// kept. Li et al., "SnapKV: LLM Knows What You are Looking for Before Generation", 2024.
///
/// Follows FasterDecoding/SnapKV `snapkv/monkeypatch/snapkv_utils.py` (`SnapKVCluster.update_kv`:
/// window rows' softmax summed, `avg_pool1d` or `max_pool1d` with padding kernel/2, the last
/// `window` keys kept) and NVIDIA/kvpress `kvpress/presses/snapkv_press.py` (the same with the
/// mean over rows, which ranks the same, and scores averaged over each KV head's query group,
/// done here by `GroupedSelection`). Average pooling counts the zero padding, as torch's
/// `avg_pool1d` does by default (edge keys are divided by the full kernel).
public struct SnapKVPolicy: BudgetedPolicy {
    public let keep: Int, window: Int, kernel: Int, pool: EvictionLabSettings.Pool
    /// The lab's name for this configuration (snapkv, snapkv-kvpress, pc-snapkv, pyramidkv).
    public let label: String
    public var name: String { "\(label)(keep \(keep), window \(window), kernel \(kernel), \(pool.rawValue)pool)" }
    public var signal: KeySignal { .attention(lastRows: window) }

    public init(keep: Int, window: Int, kernel: Int, pool: EvictionLabSettings.Pool, label: String = "snapkv") {
        self.keep = keep; self.window = window; self.kernel = kernel; self.pool = pool; self.label = label
    }

    public func score(_ input: EvictionInput) -> ScoredCandidates {
        let keys = input.candidates.map { $0.map(\.key) }
        let raw = candidateScores(input)
        let scores = keys.indices.map { h -> [Float] in
            // Only the keys before the observation window are pooled (padding at the window's
            // edge, as the reference pools attn[..., :-window]); the window's own keys stay (kvpress
            // pads them with the maximum score).
            let inWindow = input.passEnd.map { end in keys[h].firstIndex { $0 >= end - window } ?? keys[h].count } ?? keys[h].count
            let before = Array(raw[h].prefix(inWindow))
            let pooled = pool == .avg ? AvgPool.pooled(before, kernel: kernel) : MaxPool.pooled(before, kernel: kernel)
            return pooled + Array(repeating: .infinity, count: keys[h].count - inWindow)
        }
        return ScoredCandidates(keys: keys, scores: scores)
    }
}

/// torch's `avg_pool1d(kernel, stride 1, padding kernel / 2)` with `count_include_pad`: the sum of
/// the neighbours within the kernel, divided by the kernel whatever the edge.
enum AvgPool {
    static func pooled(_ s: [Float], kernel: Int) -> [Float] {
        let n = s.count, half = kernel / 2
        return (0..<n).map { i in
            var sum: Float = 0
            for j in max(0, i - half)...min(n - 1, i + half) { sum += s[j] }
            return sum / Float(kernel)
        }
    }
}
