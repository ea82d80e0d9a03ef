import Foundation

/// A claim's effect in one run minus the same claim's effect in another (two models, or two
/// prompt layouts), paired by example: runs with the same seed and sizes draw the same
/// configurations (chunk count, question, pass-key placement and digits), so example i of one
/// run is example i of the other, and the per-unit difference cancels what the configuration
/// contributes. Comparing verdict labels instead would read two noisy thresholds as a contrast.
public enum ClaimDifference {
    public struct Row: Codable, Sendable, Equatable {
        public var claim: String
        /// Part key (`value` is the headline).
        public var key: String
        public var interval: MeanInterval
        /// Pairs: units measured in both runs.
        public var pairs: Int
    }

    /// Why two runs cannot be paired, or nil when they can: different seeds, example counts,
    /// sizes or protocol versions draw different configurations (or measure differently).
    public static func incompatibility(_ a: ClaimSettings, _ b: ClaimSettings) -> String? {
        if a.seed != b.seed { return "different seeds (\(a.seed), \(b.seed))" }
        if a.width != b.width || a.passkeyChunk != b.passkeyChunk || a.passkeyTokens != b.passkeyTokens { return "different sizes" }
        if a.chunkCounts != b.chunkCounts { return "different chunk counts" }
        if ClaimProtocol.statisticsFamily(a.protocolVersion) != ClaimProtocol.statisticsFamily(b.protocolVersion) { return "protocol v\(a.protocolVersion) against v\(b.protocolVersion)" }
        if a.passkeyHaystacks != b.passkeyHaystacks { return "different pass-key designs" }
        return nil
    }

    /// Per claim and part: mean of (a - b) over the units both runs measured, with the
    /// protocol's Student-t and BCa intervals. Units are examples, or configurations (their
    /// examples' mean) for clustered claims, as in `ClaimAggregate`.
    public static func rows(_ claims: [any Claim], a: [ExampleRow], b: [ExampleRow], seed: UInt64, resamples: Int = 2000) -> [Row] {
        var out: [Row] = []
        for c in claims where c.kind.inFamily {
            for part in c.parts {
                let ua = units(a, claim: c, key: part.key), ub = units(b, claim: c, key: part.key)
                let keys = ua.keys.filter { ub[$0] != nil }.sorted()
                let d = keys.map { ua[$0]! - ub[$0]! }
                out.append(Row(claim: c.id, key: part.key,
                               interval: MeanInterval.of(d, seed: Bootstrap.seed(base: seed, claim: "diff " + c.id + part.key), resamples: resamples),
                               pairs: d.count))
            }
        }
        return out
    }

    /// Unit key -> value: the example's index, or its configuration for clustered claims (which
    /// is the example itself when each example has its own haystack: `pairingKey`).
    public static func units(_ rows: [ExampleRow], claim c: any Claim, key: String) -> [String: Double] {
        var groups: [String: [Double]] = [:]
        for r in rows {
            guard let v = r.claims[c.id]?[key], v.isFinite else { continue }
            groups[c.clustered ? r.example.pairingKey : "example \(r.example.index)", default: []].append(v)
        }
        return groups.mapValues(ClaimMath.mean)
    }

    /// The markdown section: one row per claim part, the difference with its intervals, and
    /// whether the interval excludes 0 (no verdict: a difference is not a claim of the paper).
    public static func markdown(aName: String, bName: String, rows: [Row]) -> String {
        var md = "| claim | part | \(aName) − \(bName) [95 % Student-t] | BCa 95 % | pairs | interval excludes 0 |\n|---|---|---|---|---|---|\n"
        for r in rows {
            let i = r.interval
            let excl = i.low.isFinite && i.high.isFinite ? (i.low > 0 || i.high < 0 ? "yes" : "no") : "—"
            let bca = i.bcaLow.isFinite ? "[\(ClaimReport.num(i.bcaLow)), \(ClaimReport.num(i.bcaHigh))]" : "—"
            md += "| \(r.claim) | \(r.key) | \(ClaimReport.interval(i)) | \(bca) | \(r.pairs) | \(excl) |\n"
        }
        return md
    }
}
