import Foundation

/// A verdict with the numbers behind it.
struct ClaimResult: Encodable {
    let id: String
    let claim: String
    let statistic: String
    let threshold: String
    let verdict: String   // holds | fails | inconclusive
    let numbers: [String: Double]
}

/// Thresholds of the claims, with their documented defaults (never tuned to make a claim pass).
struct ClaimThresholds: Encodable {
    var k = 3.0            // bias ratio over the uniform share that counts as elevated
    var majority = 0.5     // share of heads/chunks that makes a claim hold
    var minority = 0.2     // below this share a claim fails
    var shapeShare = 0.05  // T1: each shape must cover at least this share of heads
    var flat = 0.10        // T11/T19: relative change below this counts as flat
}

enum ClaimStatistics {
    static func quarter(_ l: Int, _ L: Int) -> Int { min(3, l * 4 / L) }

    /// T1: shape labels of global attention heads.
    static func t1(_ r: ClaimRun, _ t: ClaimThresholds) -> ClaimResult {
        let Ktot = Double(r.keys), C = r.chunks
        let us = Double(C * r.S) / Ktot, ur = Double(C * r.R) / Ktot
        var counts = ["U": 0, "mountain": 0, "uniform": 0, "other": 0]
        var uniformByQuarter = [0, 0, 0, 0]
        for l in 0..<r.layers { for h in 0..<r.heads {
            let ms = (0..<C).reduce(0.0) { $0 + r.band(r.globalBand, l, h, $1, 0) }
            let mr = (0..<C).reduce(0.0) { $0 + r.band(r.globalBand, l, h, $1, 2) }
            // Middle peak: the largest interior bin over its uniform share.
            var peak = 0.0
            for c in 0..<C { for b in 1..<(r.bins - 1) {
                let v = Double(r.globalProfile[((l * r.heads + h) * C + c) * r.bins + b])
                let share = Double(r.spans[c].count) / Double(r.bins) / Ktot
                if share > 0 { peak = max(peak, v / share) }
            } }
            let ent = Double(r.globalEntropy[l * r.heads + h])
            let label: String
            if ent > 0.9 * log(Ktot + Double(r.questionLength)) { label = "uniform"; uniformByQuarter[quarter(l, r.layers)] += 1 }
            else if ms > t.k * us && mr > t.k * ur { label = "U" }
            else if peak > t.k { label = "mountain" }
            else { label = "other" }
            counts[label]! += 1
        } }
        let n = Double(r.layers * r.heads)
        let shares = counts.mapValues { Double($0) / n }
        let three = [shares["U"]!, shares["mountain"]!, shares["uniform"]!]
        let verdict = three.allSatisfy { $0 >= t.shapeShare } ? "holds" : (three.contains(0) || three.contains { $0 > 0.95 } ? "fails" : "inconclusive")
        var nums = shares.reduce(into: [String: Double]()) { $0["share_" + $1.key] = $1.value }
        for q in 0..<4 { nums["uniform_heads_quarter\(q + 1)"] = Double(uniformByQuarter[q]) }
        return ClaimResult(id: "T1", claim: "Under parallel attention, heads show U, mountain and uniform shapes",
                           statistic: "share of heads labelled U (sink and recent > k x uniform share), mountain (interior bin > k x uniform), uniform (entropy > 0.9 log keys)",
                           threshold: "each of the three >= \(t.shapeShare)", verdict: verdict, numbers: nums)
    }

    /// T2: the sink repeats once per chunk in global attention (chunks 2..C).
    static func t2(_ r: ClaimRun, _ t: ClaimThresholds) -> (Double, Int) {
        let Ktot = Double(r.keys), C = r.chunks, us = Double(r.S) / Ktot
        var elevated = 0, total = 0, sinkLayers = 0
        for l in 0..<r.layers {
            let first = (0..<r.heads).map { r.band(r.globalBand, l, $0, 0, 0) / us }.sorted()
            guard first[first.count / 2] > t.k else { continue }   // a sink-forming layer
            sinkLayers += 1
            for h in 0..<r.heads { for c in 1..<C {
                total += 1
                if r.band(r.globalBand, l, h, c, 0) / us > t.k { elevated += 1 }
            } }
        }
        return (total > 0 ? Double(elevated) / Double(total) : .nan, sinkLayers)
    }

    /// T3: share of heads whose summed recent mass beats their summed sink mass (global).
    static func t3(_ r: ClaimRun) -> (Double, [Double]) {
        var wins = 0
        var byQ = [0, 0, 0, 0], perQ = [0, 0, 0, 0]
        for l in 0..<r.layers { for h in 0..<r.heads {
            let ms = (0..<r.chunks).reduce(0.0) { $0 + r.band(r.globalBand, l, h, $1, 0) }
            let mr = (0..<r.chunks).reduce(0.0) { $0 + r.band(r.globalBand, l, h, $1, 2) }
            let q = quarter(l, r.layers)
            perQ[q] += 1
            if mr > ms { wins += 1; byQ[q] += 1 }
        } }
        return (Double(wins) / Double(r.layers * r.heads), (0..<4).map { perQ[$0] > 0 ? Double(byQ[$0]) / Double(perQ[$0]) : .nan })
    }

    /// T4: within-chunk recent fraction, global (renormalised to the chunk) versus local.
    static func t4(_ r: ClaimRun) -> (Double, [Double]) {
        var lower = 0, total = 0
        var byQ = [0, 0, 0, 0], perQ = [0, 0, 0, 0]
        for l in 0..<r.layers { for h in 0..<r.heads { for c in 0..<r.chunks {
            let lt = (0..<3).reduce(0.0) { $0 + r.band(r.localBand, l, h, c, $1) }
            let gt = (0..<3).reduce(0.0) { $0 + r.band(r.globalBand, l, h, c, $1) }
            guard lt > 0, gt > 0 else { continue }
            let fl = r.band(r.localBand, l, h, c, 2) / lt, fg = r.band(r.globalBand, l, h, c, 2) / gt
            let q = quarter(l, r.layers)
            total += 1; perQ[q] += 1
            if fg < fl { lower += 1; byQ[q] += 1 }
        } } }
        return (Double(lower) / Double(max(1, total)), (0..<4).map { perQ[$0] > 0 ? Double(byQ[$0]) / Double(perQ[$0]) : .nan })
    }

    /// Peaks of a head's key scores over the chunk keys: positions whose 5-wide moving average
    /// exceeds k times the median.
    static func peaks(_ r: ClaimRun, _ l: Int, _ h: Int, k: Double) -> Int {
        let o = (l * r.heads + h) * r.keyCount
        let s = (0..<r.keys).map { Double(r.keyScores[o + $0]) }
        guard s.count > 5 else { return 0 }
        var sm = [Double](repeating: 0, count: s.count)
        for i in 0..<s.count {
            let lo = max(0, i - 2), hi = min(s.count - 1, i + 2)
            sm[i] = s[lo...hi].reduce(0, +) / Double(hi - lo + 1)
        }
        let med = sm.sorted()[sm.count / 2]
        return sm.filter { $0 > k * med }.count
    }

    /// Least-squares R^2 of y on x.
    static func r2(_ x: [Double], _ y: [Double]) -> Double {
        let n = Double(x.count)
        guard n >= 3 else { return .nan }
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) * (x[i] - mx); syy += (y[i] - my) * (y[i] - my) }
        guard sxx > 0, syy > 0 else { return .nan }
        return sxy * sxy / (sxx * syy)
    }

    /// T12: per head, R^2 of log A against distance (exponential) and against log distance (power).
    static func t12(_ r: ClaimRun) -> (Double, Double, Double) {
        var expWins = 0, n = 0
        var meanExp = 0.0, meanPow = 0.0
        for lh in 0..<(r.layers * r.heads) {
            var x: [Double] = [], lx: [Double] = [], y: [Double] = []
            for d in 1..<r.maxDistance {
                let v = Double(r.distance[lh * r.maxDistance + d])
                guard v > 0, v.isFinite else { continue }
                x.append(Double(d)); lx.append(log(Double(d))); y.append(log(v))
            }
            let e = r2(x, y), p = r2(lx, y)
            guard e.isFinite, p.isFinite else { continue }
            n += 1; meanExp += e; meanPow += p
            if e > p { expWins += 1 }
        }
        return (Double(expWins) / Double(max(1, n)), meanExp / Double(max(1, n)), meanPow / Double(max(1, n)))
    }
}
