import PCInference

/// A per-point summary of a sweep: a dataset under points/, a column of the table, a key of
/// `sweep --json` and a value `plot sweep --metric` draws. Named as the file stores it.
public enum SweepMetric: Hashable, Sendable, CustomStringConvertible {
    /// The mean of the accuracies of the tasks the sweep ran (not stored).
    case accuracy
    /// The share of a task's examples answered correctly (not for ppl, scored by `pplNLL`).
    case taskAccuracy(RetrievalTask)
    case pplNLL, answerNLL, needleMass, needleKept, kvBytes, seconds, peakRSSGB

    /// Every stored metric, in the file's order (passkey and niah first, as before the harder tasks).
    public static let stored: [SweepMetric] = [.taskAccuracy(.passkey), .taskAccuracy(.niah), .answerNLL, .needleMass, .needleKept, .kvBytes, .seconds, .peakRSSGB]
        + taskAccuracies.dropFirst(2) + [.pplNLL]
    /// One accuracy per task scored by its answer.
    public static let taskAccuracies = RetrievalTask.allCases.filter { $0 != .ppl }.map { SweepMetric.taskAccuracy($0) }
    /// A task's own column: its accuracy, or for ppl its mean answer NLL.
    public static func score(of task: RetrievalTask) -> SweepMetric { task == .ppl ? .pplNLL : .taskAccuracy(task) }

    public var name: String {
        switch self {
        case .accuracy: return "accuracy"
        case .taskAccuracy(let t): return "\(t.rawValue)_accuracy"
        case .pplNLL: return "ppl_nll"
        case .answerNLL: return "answer_nll"
        case .needleMass: return "needle_mass"
        case .needleKept: return "needle_kept"
        case .kvBytes: return "kv_bytes"
        case .seconds: return "seconds"
        case .peakRSSGB: return "peak_rss_gb"
        }
    }
    public var description: String { name }
    /// A share in 0...1 (a heatmap's colour scale is then fixed to it).
    public var isShare: Bool {
        switch self { case .accuracy, .taskAccuracy, .needleKept: return true; default: return false }
    }

    public init?(argument: String) {
        guard let m = ([.accuracy] + Self.stored).first(where: { $0.name == argument }) else { return nil }
        self = m
    }
    public static var allValueStrings: [String] { ([.accuracy] + stored).map(\.name) }
}
