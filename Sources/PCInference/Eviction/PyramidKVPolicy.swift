/// PyramidKV: SnapKV's scoring (the last question rows' attention, max-pooled) with budgets that
/// shrink with depth, because lower layers spread attention widely and upper layers focus it.
/// Cai et al., "PyramidKV: Dynamic KV Cache Compression based on Pyramidal Information
/// Funneling", 2024 (arXiv:2406.02069).
public struct PyramidKVPolicy: BudgetedPolicy {
    public let keep: Int, kernel: Int, window: Int
    public var name: String { "pyramidkv(keep \(keep), window \(window), kernel \(kernel))" }
    public var signal: KeySignal { .attention(lastRows: window) }
    public init(keep: Int, window: Int, kernel: Int) { self.keep = keep; self.window = window; self.kernel = kernel }

    public func score(_ input: EvictionInput) -> ScoredCandidates { MaxPool.scored(input, kernel: kernel) }

    /// The paper's budgets for `layers` layers averaging `mean` keys: the top layer gets
    /// mean / beta, the bottom 2 x mean - that, the layers between on a straight line; rounded so
    /// that they sum to exactly layers x mean (the remainder goes to the lowest layers).
    public static func budgets(mean: Int, layers L: Int, beta: Double = 20) -> [Int] {
        guard L > 1 else { return Array(repeating: mean, count: max(0, L)) }
        let top = Double(mean) / beta, bottom = 2 * Double(mean) - top
        var b = (0..<L).map { Int((bottom - (bottom - top) * Double($0) / Double(L - 1)).rounded(.down)) }
        var rest = mean * L - b.reduce(0, +)
        var i = 0
        while rest > 0 { b[i % L] += 1; rest -= 1; i += 1 }
        return b
    }
}
