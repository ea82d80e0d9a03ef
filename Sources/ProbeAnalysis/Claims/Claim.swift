import Foundation

/// What a claim's interval says about its threshold.
public enum Verdict: String, Codable, Sendable {
    case holds, fails, inconclusive
    /// No example gave a finite statistic (an empty band, a run that did not apply): never a number.
    case notMeasured = "not measured"
    /// The intervention evicted fewer keys than the protocol's minimum: nothing was tested.
    case noManipulation = "no manipulation"
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
    /// An assumption the paper's theorem rests on (T12), not an empirical claim of the paper.
    case assumption
    /// A claim's test re-run with another setting (lambda scaled to the chunk): read beside the
    /// claim, outside the counts and Holm's family.
    case sensitivity

    /// Tested as a family (counted, Holm-corrected): paper claims, the reformulation, the assumption.
    public var inFamily: Bool { self == .paper || self == .reformulation || self == .assumption }
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

    /// The smallest effect beyond the threshold that counts (docs/claims-protocol.md): a claim
    /// "holds" only when its estimate reaches threshold +/- this, and "fails" when the interval
    /// lies wholly short of it (a reliable effect too small to matter fails the claim).
    var minimumEffect: Double { get }
    /// The tests the verdict needs, all of which must hold (a two-part criterion has two).
    var parts: [ClaimPart] { get }
    /// True when the claim's examples repeat a configuration (the pass-key claims on the fixed
    /// filler): the unit of inference is then the configuration's mean, not the example.
    var clustered: Bool { get }
    /// The measured key holding the keys the intervention evicted per intervened (layer, head)
    /// and chunk pass; below `ClaimProtocol.minimumEvictedPerHead` the verdict is "no manipulation".
    var manipulationKey: String? { get }
    /// Measured keys shown beside the headline in the table (the secondary forms: other band
    /// definitions); an eviction claim's uncontrolled number (`value_uncontrolled`) always is.
    var secondaryKeys: [String] { get }
}

extension Claim {
    public var minimumEffect: Double { 0 }
    public var parts: [ClaimPart] { [ClaimPart(key: "value", test: .beyond(threshold, minimumEffect: minimumEffect))] }
    public var clustered: Bool { false }
    public var manipulationKey: String? { nil }
    public var secondaryKeys: [String] { [] }
}

/// One test of a claim on one per-example number.
public struct ClaimPart: Codable, Sendable, Equatable {
    public var key: String
    public var test: ClaimTest
    public init(key: String, test: ClaimTest) { self.key = key; self.test = test }
}

/// How a mean with its interval decides a part. Every form is a pair of one-sided t tests at
/// `alpha` = 2.5 %, so a raw verdict is exactly what the 95 % Student-t interval shows.
public enum ClaimTest: Codable, Sendable, Equatable {
    /// The claim says the mean lies beyond the threshold: holds when it is significantly beyond
    /// and the estimate reaches threshold +/- minimumEffect; fails when it is significantly short
    /// of threshold +/- minimumEffect.
    case beyond(Threshold, minimumEffect: Double)
    /// The claim says "no change": holds when the interval lies within +/- margin (TOST).
    case equivalent(margin: Double)
    /// The claim says "a change of either sign": holds when the interval lies wholly outside
    /// +/- margin; fails when it lies within it (TOST).
    case different(margin: Double)

    public static let alpha = 0.025

    public var text: String {
        switch self {
        case let .beyond(t, d): return t.text + (d > 0 ? " by >= " + String(format: "%g", d) : "")
        case let .equivalent(m): return "within +/- " + String(format: "%g", m) + " (TOST)"
        case let .different(m): return "outside +/- " + String(format: "%g", m)
        }
    }

    /// p-values of "holds" and of "fails" (each small when the data show it).
    public func pValues(_ i: MeanInterval) -> (hold: Double, fail: Double) {
        switch self {
        case let .beyond(t, d):
            return t.direction == .above ? (i.pAbove(t.value), i.pBelow(t.value + d)) : (i.pBelow(t.value), i.pAbove(t.value - d))
        case let .equivalent(m):
            return (max(i.pAbove(-m), i.pBelow(m)), min(i.pAbove(m), i.pBelow(-m)))
        case let .different(m):
            return (min(i.pAbove(m), i.pBelow(-m)), max(i.pAbove(-m), i.pBelow(m)))
        }
    }

    /// Whether the estimate itself is large enough to count (only `beyond` has such a bar apart
    /// from its test).
    public func relevant(_ mean: Double) -> Bool {
        guard case let .beyond(t, d) = self else { return true }
        return t.direction == .above ? mean >= t.value + d : mean <= t.value - d
    }

    public func verdict(_ i: MeanInterval, alpha: Double = ClaimTest.alpha) -> Verdict {
        guard i.n > 0, i.mean.isFinite else { return .notMeasured }
        let p = pValues(i)
        if p.hold < alpha && relevant(i.mean) { return .holds }
        if p.fail < alpha { return .fails }
        return .inconclusive
    }
}

/// One part's numbers and verdict.
public struct PartOutcome: Codable, Sendable {
    public var key: String
    public var test: ClaimTest
    public var interval: MeanInterval
    public var pHold: Double, pFail: Double
    public var verdict: Verdict
}

/// Everything the report says about one claim.
public struct ClaimOutcome: Codable, Sendable {
    public var id: String
    public var kind: ClaimKind
    public var sentence: String
    public var statistic: String
    public var threshold: Threshold
    public var confounds: [String]
    /// The first part's mean and 95 % Student-t interval over the units.
    public var estimate: Double
    public var low: Double
    public var high: Double
    /// Examples with a finite statistic.
    public var examples: Int
    /// Raw verdict (each claim's own 2.5 % one-sided tests).
    public var verdict: Verdict
    /// Means over examples of the secondary numbers.
    public var numbers: [String: Double]
    /// Units of inference (examples, or configurations when examples repeat one).
    public var units: Int = 0
    public var minimumEffect: Double = 0
    public var parts: [PartOutcome] = []
    /// Intersection-union p-values over the parts (largest for "holds", smallest for "fails"),
    /// and the same after Holm's adjustment across the claims (observations excluded).
    public var pHold: Double = .nan, pFail: Double = .nan
    public var pHoldAdjusted: Double = .nan, pFailAdjusted: Double = .nan
    /// Verdict after Holm's adjustment: a raw "holds" or "fails" that does not survive it is inconclusive.
    public var adjustedVerdict: Verdict = .inconclusive
    /// Mean keys evicted per intervened (layer, head) and chunk pass, when the claim intervenes.
    public var evictedPerHead: Double?

    public init(id: String, kind: ClaimKind, sentence: String, statistic: String, threshold: Threshold, confounds: [String],
                estimate: Double, low: Double, high: Double, examples: Int, verdict: Verdict, numbers: [String: Double]) {
        self.id = id; self.kind = kind; self.sentence = sentence; self.statistic = statistic; self.threshold = threshold
        self.confounds = confounds; self.estimate = estimate; self.low = low; self.high = high; self.examples = examples
        self.verdict = verdict; self.numbers = numbers; self.adjustedVerdict = verdict
    }

    /// claims.json files written before protocol v2 lack the newer fields: they take defaults
    /// (the adjusted verdict is the raw one), so the comparison still reads them.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id); kind = try c.decode(ClaimKind.self, forKey: .kind)
        sentence = try c.decode(String.self, forKey: .sentence); statistic = try c.decode(String.self, forKey: .statistic)
        threshold = try c.decode(Threshold.self, forKey: .threshold); confounds = try c.decode([String].self, forKey: .confounds)
        estimate = try c.decode(Double.self, forKey: .estimate); low = try c.decode(Double.self, forKey: .low)
        high = try c.decode(Double.self, forKey: .high); examples = try c.decode(Int.self, forKey: .examples)
        verdict = try c.decode(Verdict.self, forKey: .verdict); numbers = try c.decode([String: Double].self, forKey: .numbers)
        units = try c.decodeIfPresent(Int.self, forKey: .units) ?? examples
        minimumEffect = try c.decodeIfPresent(Double.self, forKey: .minimumEffect) ?? 0
        parts = try c.decodeIfPresent([PartOutcome].self, forKey: .parts) ?? []
        pHold = try c.decodeIfPresent(Double.self, forKey: .pHold) ?? .nan; pFail = try c.decodeIfPresent(Double.self, forKey: .pFail) ?? .nan
        pHoldAdjusted = try c.decodeIfPresent(Double.self, forKey: .pHoldAdjusted) ?? .nan
        pFailAdjusted = try c.decodeIfPresent(Double.self, forKey: .pFailAdjusted) ?? .nan
        adjustedVerdict = try c.decodeIfPresent(Verdict.self, forKey: .adjustedVerdict) ?? verdict
        evictedPerHead = try c.decodeIfPresent(Double.self, forKey: .evictedPerHead)
    }
}
