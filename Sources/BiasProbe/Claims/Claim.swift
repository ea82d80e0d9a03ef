import Foundation

/// What a claim's interval says about its threshold.
public enum Verdict: String, Codable, Sendable {
    case holds, fails, inconclusive
}

/// Where a claim's statistic must lie for the claim to hold.
public enum Direction: String, Codable, Sendable {
    /// The claim holds when the statistic is above the threshold.
    case above
    /// The claim holds when the statistic is below the threshold.
    case below
}

/// How a claim relates to the paper: a statement it makes, a testable restatement of one (its
/// own form is untestable or trivially true), or an observation the paper does not make.
public enum ClaimKind: String, Codable, Sendable {
    case paper, reformulation, observation
}

/// A pre-registered threshold: fixed before any run, never tuned to the data.
public struct Threshold: Codable, Sendable, Equatable {
    public var value: Double
    public var direction: Direction
    public init(value: Double, direction: Direction) { self.value = value; self.direction = direction }
    public var text: String { (direction == .above ? "> " : "< ") + String(format: "%g", value) }

    /// "holds" only when the whole interval is on the claim's side, "fails" only when the whole
    /// interval is on the other side: a point estimate near the threshold decides nothing.
    public func verdict(low: Double, high: Double) -> Verdict {
        guard low.isFinite, high.isFinite else { return .inconclusive }
        switch direction {
        case .above:
            if low > value { return .holds }
            if high < value { return .fails }
        case .below:
            if high < value { return .holds }
            if low > value { return .fails }
        }
        return .inconclusive
    }
}

/// One claim of the paper (or observation), tested on every example it applies to.
///
/// `measure` turns one example's runs into numbers: the key `value` is the statistic the verdict
/// rests on; the others are reported alongside (means over examples). An example the claim does
/// not apply to returns nil. Aggregation (mean over examples, bootstrap interval, verdict) is the
/// same for every claim, so a claim file holds only what is specific to it.
public protocol Claim: Sendable {
    var id: String { get }
    var kind: ClaimKind { get }
    /// The paper's sentence, quoted from ../shared/research/paper-claims.md (section 7.2).
    var sentence: String { get }
    /// What is computed per example.
    var statistic: String { get }
    var threshold: Threshold { get }
    /// What besides the model could decide the verdict.
    var confounds: [String] { get }
    func measure(_ runs: ExampleRuns) -> [String: Double]?
}

/// Everything the report says about one claim.
public struct ClaimOutcome: Codable, Sendable {
    public var id: String
    public var kind: ClaimKind
    public var sentence: String
    public var statistic: String
    public var threshold: Threshold
    public var confounds: [String]
    public var estimate: Double
    public var low: Double
    public var high: Double
    public var examples: Int
    public var verdict: Verdict
    /// Means over examples of the secondary numbers.
    public var numbers: [String: Double]
}
