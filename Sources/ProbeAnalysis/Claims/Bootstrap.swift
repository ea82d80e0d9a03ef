import Foundation
import PCInference

/// Percentile bootstrap over examples (protocol v1's interval; v2 uses `MeanInterval`: Student-t
/// with BCa beside it). Kept for the v1 re-analysis and its tests.
public enum Bootstrap {
    public static let minimumExamples = 5

    /// 95 % interval of the mean of `values` (NaNs dropped), from `resamples` draws of a
    /// SplitMix64 seeded with `seed`: the same inputs give the same interval on every machine.
    public static func meanInterval(_ values: [Double], seed: UInt64, resamples: Int = 2000, level: Double = 0.95) -> (mean: Double, low: Double, high: Double) {
        let v = values.filter { $0.isFinite }
        guard !v.isEmpty else { return (.nan, .nan, .nan) }
        let mean = v.reduce(0, +) / Double(v.count)
        // A percentile bootstrap of fewer than 5 examples bounds nothing: no verdict from it.
        guard v.count >= minimumExamples else { return (mean, -.infinity, .infinity) }
        var rng = SplitMix64(seed: seed)
        var means = [Double](repeating: 0, count: resamples)
        for r in 0..<resamples {
            var s = 0.0
            for _ in 0..<v.count { s += v[Int(rng.next() % UInt64(v.count))] }
            means[r] = s / Double(v.count)
        }
        means.sort()
        let a = (1 - level) / 2
        func q(_ p: Double) -> Double { means[min(resamples - 1, max(0, Int((p * Double(resamples - 1)).rounded())))] }
        return (mean, q(a), q(1 - a))
    }

    /// A claim's own seed: runs of different claims do not share draws, and adding a claim
    /// does not change the others' intervals.
    public static func seed(base: UInt64, claim id: String) -> UInt64 {
        id.utf8.reduce(base ^ 0xC1A1_5EED) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
    }
}

/// Mean, interval, tests and verdicts for every claim, from the per-example numbers
/// (docs/claims-protocol.md fixes every step).
public enum ClaimAggregate {
    /// The units of one claim's key: one value per example, or per configuration (the mean of
    /// its examples) when the claim is clustered.
    public static func units(_ measured: [(ClaimExample, [String: Double])], key: String, clustered: Bool) -> [Double] {
        let pairs = measured.compactMap { e, m in m[key].flatMap { $0.isFinite ? (e, $0) : nil } }
        guard clustered else { return pairs.map(\.1) }
        var groups: [String: [Double]] = [:], order: [String] = []
        for (e, v) in pairs {
            if groups[e.clusterKey] == nil { order.append(e.clusterKey) }
            groups[e.clusterKey, default: []].append(v)
        }
        return order.map { ClaimMath.mean(groups[$0]!) }
    }

    /// `resamples`: the BCa bootstrap's (the protocol's 2,000; 0 skips it, for simulations
    /// that read only the verdicts, which rest on the t interval).
    public static func outcomes(_ claims: [any Claim], rows: [ExampleRow], seed: UInt64, resamples: Int = 2000) -> [ClaimOutcome] {
        var out = claims.map { c -> ClaimOutcome in
            let measured = rows.compactMap { r in r.claims[c.id].map { (r.example, $0) } }
            var numbers: [String: Double] = [:]
            for key in Set(measured.flatMap(\.1.keys)) where key != "value" {
                let v = measured.compactMap { $0.1[key] }.filter(\.isFinite)
                // A number no example could measure (an empty band) is NaN: "not measured", never a value.
                numbers[key] = v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count)
            }
            let n = measured.filter { ($0.1["value"] ?? .nan).isFinite }.count
            let parts = c.parts.map { part -> PartOutcome in
                let i = MeanInterval.of(units(measured, key: part.key, clustered: c.clustered), seed: Bootstrap.seed(base: seed, claim: c.id + part.key), resamples: resamples)
                let p = part.test.pValues(i)
                return PartOutcome(key: part.key, test: part.test, interval: i, pHold: p.hold, pFail: p.fail, verdict: part.test.verdict(i))
            }
            let first = parts[0].interval
            var verdict: Verdict
            if parts.contains(where: { $0.verdict == .notMeasured }) { verdict = .notMeasured }
            else if parts.contains(where: { $0.verdict == .fails }) { verdict = .fails }
            else if parts.allSatisfy({ $0.verdict == .holds }) { verdict = .holds }
            else { verdict = .inconclusive }
            var evicted: Double?
            if let k = c.manipulationKey {
                // Rows written before v2 did not record evictions: no check, not a failed one.
                evicted = numbers[k].flatMap { $0.isFinite ? $0 : nil }
                if verdict != .notMeasured, let e = evicted, e < ClaimProtocol.minimumEvictedPerHead { verdict = .noManipulation }
            }
            var o = ClaimOutcome(id: c.id, kind: c.kind, sentence: c.sentence, statistic: c.statistic, threshold: c.threshold,
                                 confounds: c.confounds, estimate: first.mean, low: first.low, high: first.high, examples: n,
                                 verdict: verdict, numbers: numbers)
            o.units = first.n; o.minimumEffect = c.minimumEffect; o.parts = parts; o.evictedPerHead = evicted
            // Intersection-union: every part must hold, any part may fail.
            o.pHold = parts.map(\.pHold).max() ?? .nan; o.pFail = parts.map(\.pFail).min() ?? .nan
            return o
        }
        // Holm across the verdict-bearing claims; a claim without a verdict to give (not
        // measured, no manipulation) is outside the family.
        let family = out.indices.filter { out[$0].kind.inFamily && (out[$0].verdict == .holds || out[$0].verdict == .fails || out[$0].verdict == .inconclusive) }
        let h = Stats.holm(family.map { out[$0].pHold }), f = Stats.holm(family.map { out[$0].pFail })
        for (j, i) in family.enumerated() { out[i].pHoldAdjusted = h[j]; out[i].pFailAdjusted = f[j] }
        for i in out.indices {
            switch out[i].verdict {
            case .holds: out[i].adjustedVerdict = out[i].pHoldAdjusted < ClaimTest.alpha ? .holds : .inconclusive
            case .fails: out[i].adjustedVerdict = out[i].pFailAdjusted < ClaimTest.alpha ? .fails : .inconclusive
            default: out[i].adjustedVerdict = out[i].verdict
            }
            if !out[i].kind.inFamily { out[i].adjustedVerdict = out[i].verdict }
        }
        return out
    }
}
