import Foundation

/// T12: the decay Theorem A.1 assumes.
public struct ExponentialDecayClaim: Claim {
    public let id = "T12", kind = ClaimKind.assumption
    public init() {}
    public let sentence = "Apart from sink positions, local attention decays like exp(−c·distance)."
    public let statistic = "share of heads whose mean local attention against distance (1..D, rows that reach D without entering the template and content sink) is fit better in log space by a line in distance (exponential) than in log distance (power law); R^2 within 0.02 counts half"
    public let threshold = Threshold(value: 0.5, direction: .above)
    public let minimumEffect = 0.05
    public let confounds = ["only context rows far enough into the chunk are used, so every distance averages the same rows (averaging all rows biases toward a power law)",
                     "D = min(w/2, 256): the fit covers short to medium range only"]

    /// Exponential fits better (true), power law (false), or a tie (nil), for one profile over Δ = 1 ..< count.
    public static func exponentialBetter(_ profile: [Double]) -> Bool? {
        var x: [Double] = [], lx: [Double] = [], y: [Double] = []
        for d in 1..<profile.count where profile[d] > 0 && profile[d].isFinite {
            x.append(Double(d)); lx.append(log(Double(d))); y.append(log(profile[d]))
        }
        let e = ClaimMath.r2(x, y), p = ClaimMath.r2(lx, y)
        guard e.isFinite, p.isFinite, abs(e - p) > 0.02 else { return nil }
        return e > p
    }

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let r = x.essay, D = r.reachDistance
        guard D > 3 else { return nil }
        let profiles = (0..<r.lhCount).map { Array(r.reach[($0 * D)..<(($0 + 1) * D)]) }.filter { $0.allSatisfy(\.isFinite) }
        guard !profiles.isEmpty else { return nil }
        return ["value": ClaimMath.share(profiles.map(Self.exponentialBetter)), "heads_fitted": Double(profiles.count)]
    }

    /// Mean profile over heads, for the figure.
    public static func meanProfile(_ r: EssayRuns) -> [Double] {
        let D = r.reachDistance
        return (0..<D).map { d in ClaimMath.mean((0..<r.lhCount).map { r.reach[$0 * D + d] }) }
    }
}
