import Foundation

/// T15: evicting every outlier is catastrophic.
public struct AllEvictionClaim: Claim {
    public let id = "T15", kind = ClaimKind.paper
    public init() {}
    public let sentence = "Evicting every high-score token is catastrophic, most of all in early layers (All-eviction averages 3.43 / 12.95 / 20.32 / 15.59 against 36.60)."
    public let statistic = "the smallest over the four depth quarters of the pass key's NLL increase (nats per token) when every key above lambda = 0.1 is evicted in that quarter, net of its matched random control (as many keys per head and pass evicted at random in that quarter) (chunk-stage calibration, band all)"
    public let threshold = Threshold(value: 0.5, direction: .above)
    public var clustered: Bool { true }
    public var manipulationKey: String? { "evicted_per_head" }
    public let confounds = ["the needle's chunk is kept in every run (from v3): eviction is measured apart from chunk selection",
                     "0.5 nats per token (the answer 1.65x less likely per token) stands for the paper's collapse",
                     "head equalisation (official) tops every head up to the same eviction count with its lowest-score keys"]

    public func measure(_ x: ExampleRuns) -> [String: Double]? {
        let p = x.passkey
        guard let b = p.base, p.allByQuarter.count == 4 else { return nil }
        let d = p.allByQuarter.map { $0.nll - b.nll }
        var out: [String: Double] = ["value_uncontrolled": d.min()!, "worst_is_first_quarter": d.firstIndex(of: d.max()!) == 0 ? 1 : 0]
        if p.allByQuarterControl.count == 4 {
            let net = (0..<4).map { p.allByQuarter[$0].nll - p.allByQuarterControl[$0].nll }
            for q in 0..<4 { out["nll_change_quarter\(q + 1)_net"] = net[q] }
            out["value"] = net.min()!
        }
        for q in 0..<4 { out["nll_change_quarter\(q + 1)"] = d[q] }
        let ev = (0..<4).compactMap { p.evictedPerHead(p.allByQuarter[$0], quarters: $0...$0) }
        if ev.count == 4 {
            for q in 0..<4 { out["evicted_per_head_quarter\(q + 1)"] = ev[q] }
            out["evicted_per_head"] = ev.min()!   // every quarter must have evicted something
        }
        return out
    }
}
