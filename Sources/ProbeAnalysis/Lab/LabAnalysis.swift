import Foundation
import PCInference

/// The lab's comparison from its example rows, per setting: each point against `off` (paired
/// bootstrap on score and answer NLL, tasks weighted equally), the ranking in tiers, exact
/// McNemar tests between policies at the same ratio, and the band accounting.
public struct LabAnalysis: Encodable {
    /// Off's mean score at or below this is the model's floor on the task: no policy can be
    /// told from another there, so the task leaves the ranking.
    public static let floor = 0.05

    public struct Row: Encodable {
        public var point: String, tier: Int
        public var score: Double, deltaScore: LabStatistics.Interval, deltaNLL: LabStatistics.Interval
        public var kvBytes: Double?
        public var keptBand: [String: Double], keptLayerMin: Double?, keptLayerMax: Double?
        public var evidenceHeldAll: Double?, evidenceHeldAny: Double?, evidenceMassLost: Double?
    }
    public struct Pair: Encodable { var a: String, b: String; var test: LabStatistics.McNemar; var pHolm: Double }

    public var setting: String
    public var tokens: Int
    public var examples: [String: Int]
    public var offScore: [String: Double]
    public var ranked: [String]
    public var droppedAtFloor: [String]
    public var rows: [Row]
    public var pairs: [Pair]

    /// Mean of the finite values (nil when none).
    public static func mean(_ v: [Double?]) -> Double? {
        let f = v.compactMap { $0 }.filter(\.isFinite)
        return f.isEmpty ? nil : f.reduce(0, +) / Double(f.count)
    }

    public static func of(_ all: [LabExampleRow], seed: UInt64 = 27) -> [LabAnalysis] {
        var out: [LabAnalysis] = []
        let settings = all.map { "\($0.setting)@\($0.tokens)" }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for key in settings {
            let rows = all.filter { "\($0.setting)@\($0.tokens)" == key }
            guard let first = rows.first else { continue }
            let names = first.points.map(\.pointName)
            let tasks = rows.map(\.task).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            var byTask: [String: [LabExampleRow]] = [:]
            for r in rows where r.points.map(\.pointName) == names { byTask[r.task, default: []].append(r) }
            func values(_ task: String, _ p: Int, _ f: (LabPoint) -> Double?) -> [Double] { byTask[task, default: []].map { f($0.points[p]) ?? .nan } }
            let off = Dictionary(uniqueKeysWithValues: tasks.map { t in (t, mean(values(t, 0, { $0.score })) ?? 0) })
            let ranked = tasks.filter { off[$0]! > floor }
            let dropped = tasks.filter { off[$0]! <= floor }
            func strata(_ p: Int, minus q: Int, _ f: (LabPoint) -> Double?) -> [[Double]] {
                ranked.map { t in zip(values(t, p, f), values(t, q, f)).map { $0 - $1 } }
            }
            var scoreByPoint: [String: [[Double]]] = [:]
            for (p, n) in names.enumerated() { scoreByPoint[n] = ranked.map { values($0, p, { $0.score }) } }
            let tiers = LabStatistics.tiers(names, values: scoreByPoint, seed: seed)
            var result: [Row] = []
            for (ti, tier) in tiers.enumerated() {
                for n in tier {
                    let p = names.firstIndex(of: n)!
                    let pts = ranked.flatMap { t in byTask[t, default: []].map { $0.points[p] } }
                    let allPts = tasks.flatMap { t in byTask[t, default: []].map { $0.points[p] } }
                    let layers = allPts.compactMap(\.keptLayer).flatMap { $0 }.filter(\.isFinite)
                    var bands: [String: Double] = [:]
                    for b in KeyBand.chunkBandNames { if let m = mean(allPts.map { $0.keptBand?[b] }) { bands[b] = m } }
                    result.append(Row(point: n, tier: ti + 1, score: mean(pts.map(\.score)) ?? .nan,
                                      deltaScore: LabStatistics.pairedInterval(strata(p, minus: 0, { $0.score }), seed: seed ^ n.hashValueStable),
                                      deltaNLL: LabStatistics.pairedInterval(strata(p, minus: 0, { $0.answerNLL }), seed: seed ^ n.hashValueStable ^ 1),
                                      kvBytes: mean(allPts.map(\.kvBytes)), keptBand: bands,
                                      keptLayerMin: layers.min(), keptLayerMax: layers.max(),
                                      evidenceHeldAll: mean(allPts.map(\.evidenceHeldAll)), evidenceHeldAny: mean(allPts.map(\.evidenceHeldAny)),
                                      evidenceMassLost: mean(allPts.map(\.evidenceMassLost))))
                }
            }
            // McNemar between policies at the same ratio, on correctness over the ranked tasks; Holm over the family.
            var pairs: [Pair] = []
            for i in names.indices.dropFirst() {
                for j in names.indices where j > i && names[i].split(separator: "@").last == names[j].split(separator: "@").last {
                    let a = ranked.flatMap { t in byTask[t, default: []].map { $0.points[i].correct } }
                    let b = ranked.flatMap { t in byTask[t, default: []].map { $0.points[j].correct } }
                    pairs.append(Pair(a: names[i], b: names[j], test: LabStatistics.mcnemar(a, b), pHolm: .nan))
                }
            }
            let holm = Stats.holm(pairs.map(\.test.p))
            for k in pairs.indices { pairs[k].pHolm = holm[k] }
            out.append(LabAnalysis(setting: first.setting, tokens: first.tokens, examples: byTask.mapValues(\.count), offScore: off,
                                   ranked: ranked, droppedAtFloor: dropped, rows: result, pairs: pairs))
        }
        return out
    }

    /// The report: the ranking with intervals first, then the band accounting, then what the
    /// setup cannot tell.
    public func markdown() -> String {
        func f(_ x: Double?, _ d: Int = 2) -> String { x.map { $0.isFinite ? String(format: "%.\(d)f", $0) : "-" } ?? "-" }
        func ci(_ i: LabStatistics.Interval) -> String {
            i.low.isFinite ? String(format: "%+.3f [%+.3f, %+.3f]", i.mean, i.low, i.high) : (i.mean.isFinite ? String(format: "%+.3f [n<5]", i.mean) : "-")
        }
        let n = examples.values.min() ?? 0
        var s = "## \(setting) setting, \(tokens) tokens\n\n"
        s += "Tasks ranked: \(ranked.isEmpty ? "none" : ranked.joined(separator: ", ")) (\(n)-\(examples.values.max() ?? 0) examples each; off's score per task: "
        s += offScore.sorted { $0.key < $1.key }.map { "\($0.key) \(f($0.value))" }.joined(separator: ", ") + ").\n"
        if !droppedAtFloor.isEmpty {
            s += "Dropped from the ranking: \(droppedAtFloor.joined(separator: ", ")): off scores at most \(f(Self.floor)) there, the model's floor, so no policy can be told apart on them.\n"
        }
        s += "\n### Ranking (RULER score, string_match_all; tiers: points whose paired 95 % bootstrap interval against the tier's head, Bonferroni over all pairs, includes 0 share a tier)\n\n"
        s += "| tier | point | score | score - off [95 % CI] | answer NLL - off [95 % CI] | KV bytes |\n|---|---|---|---|---|---|\n"
        for r in rows { s += "| \(r.tier) | \(r.point) | \(f(r.score, 3)) | \(ci(r.deltaScore)) | \(ci(r.deltaNLL)) | \(r.kvBytes.map { String(format: "%.0f", $0) } ?? "-") |\n" }
        let sig = pairs.filter { $0.pHolm < 0.05 }
        s += "\nMcNemar (exact) between policies at the same ratio: \(pairs.count) pairs, \(sig.count) with Holm-adjusted p < 0.05"
        s += sig.isEmpty ? ".\n" : ": " + sig.map { "\($0.a) vs \($0.b) (\($0.test.aOnly):\($0.test.bOnly), p = \(f($0.pHolm, 4)))" }.joined(separator: "; ") + ".\n"
        s += "\n### Band accounting (every task; kept fraction of the band's keys over layers and heads)\n\n"
        s += "| point | sink | middle | recent | per layer (min-max) | heads holding all evidence | any evidence | evidence attention lost |\n|---|---|---|---|---|---|---|---|\n"
        for r in rows.sorted(by: { $0.point < $1.point }) {
            s += "| \(r.point) | \(f(r.keptBand[KeyBand.sink.rawValue])) | \(f(r.keptBand[KeyBand.middle.rawValue])) | \(f(r.keptBand[KeyBand.recent.rawValue])) | \(f(r.keptLayerMin))-\(f(r.keptLayerMax)) | \(f(r.evidenceHeldAll)) | \(f(r.evidenceHeldAny)) | \(f(r.evidenceMassLost)) |\n"
        }
        s += "\n### What this setup cannot tell\n\n"
        s += "- With \(n) examples per task an interval of a score difference is about ±\(String(format: "%.2f", n > 0 ? 2 / Double(n).squareRoot() * 0.5 : .nan)) wide at worst: differences smaller than that are not resolved, and points in one tier are not shown equal, only not separated.\n"
        s += "- Tasks where off is at the floor (\(droppedAtFloor.isEmpty ? "none here" : droppedAtFloor.joined(separator: ", "))) say nothing about eviction; a small model's floor is reached long before a 7-8B model's, so a policy ranking here need not transfer.\n"
        s += "- Evidence attention lost is measured against off's question attention in the kvpress setting only; in the parallelcomp setting chunk selection changes what the question sees, so only the evidence mass itself is recorded.\n"
        return s
    }
}
