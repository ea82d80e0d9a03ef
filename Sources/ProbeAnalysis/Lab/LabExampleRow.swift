import PCInference

/// One example's line in the lab's JSONL: every point of the grid on it.
public struct LabExampleRow: Codable {
    public var setting: String
    public var task: String
    public var example: Int
    public var seed: UInt64
    public var depth: Double
    public var tokens: Int
    public var references: [String]
    public var points: [LabPoint]
    /// Seconds for the whole example (prefill, every point).
    public var seconds: Double

    public init(setting: String, task: String, example: Int, seed: UInt64, depth: Double, tokens: Int, references: [String], points: [LabPoint], seconds: Double) {
        self.setting = setting; self.task = task; self.example = example; self.seed = seed; self.depth = depth
        self.tokens = tokens; self.references = references; self.points = points; self.seconds = seconds
    }
}

extension LabPoint {
    /// "off" or "policy@ratio", as `LabRunner.Point` names it.
    public var pointName: String { ratio.map { "\(policy)@\($0)" } ?? policy }
}
