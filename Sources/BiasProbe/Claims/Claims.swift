import ArgumentParser
import Foundation
import Heatmap
import PCInference

struct Claims: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Test the paper's attention-bias claims (T1-T5, T11, T12, T19, T20) on the default essays.",
        discussion: """
        Runs the model over the default essays in parallel chunks (every chunk kept, so global \
        attention covers all of them), computes each claim's statistic and gives a verdict: holds, \
        fails or inconclusive. Thresholds are options with fixed defaults. Writes claims.md, \
        claims.json and figures to --out-dir.
        """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Chunks in the main run.") var chunks = 4
    @Option(help: "Content tokens per chunk in the main run.") var width = 1024
    @Option(help: "Chunk widths for T11.") var widths = "256,512,1024,2048"
    @Option(help: "Chunk counts for T19.") var counts = "1,2,4,8,16"
    @Option(help: "Chunk width for T19.") var countWidth = 512
    @Option(help: "Bias ratio that counts as elevated.") var k = 3.0
    @Option(help: "Share of heads that makes a claim hold.") var majority = 0.5
    @Option(help: "Folder for claims.md, claims.json and figures.") var outDir = "outputs/claims"
    @Flag(help: "Print claims.json on stdout too.") var json = false
    @Flag(help: "No progress lines.") var quiet = false

    func run() throws {
        let t0 = Date()
        let (model, tok, _) = try modelOptions.load()
        let L = model.config.layerCount, H = model.config.headCount
        let ws = try widths.split(separator: ",").map { s -> Int in guard let v = Int(s), v >= 16 else { throw ValidationError("bad width '\(s)'") }; return v }
        let cs = try counts.split(separator: ",").map { s -> Int in guard let v = Int(s), v >= 1 else { throw ValidationError("bad count '\(s)'") }; return v }
        let doc = tok.encode(try DefaultCorpus.essays(), parseSpecial: false, addBOS: false)
        let need = max(chunks * width, (cs.max() ?? 1) * countWidth, 2 * (ws.max() ?? 0))
        guard doc.count >= need else { throw CLIError("the essays hold \(doc.count) tokens; these settings need \(need)") }
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        var t = ClaimThresholds(); t.k = k; t.majority = majority
        let sr = max(1, Int((0.025 * Double(width)).rounded()))   // bands scaled to ~2.5 % of the chunk (paper: 100 of 3,600-4,000)
        func say(_ s: String) { if !quiet { Log.info(s) } }

        // Main runs: first token of later chunks dropped (official) and kept; and normal attention.
        say("claims: parallel run, \(chunks) x \(width) tokens (first tokens dropped)")
        var dropped = ClaimRun(chunks: chunks, width: width, keepFirst: false, S: sr, R: sr, layers: L, heads: H)
        try dropped.run(model: model, tok: tok, docIDs: doc, concentration: false, distance: min(512, width))
        say("claims: parallel run with every chunk's first token kept")
        var kept = ClaimRun(chunks: chunks, width: width, keepFirst: true, S: sr, R: sr, layers: L, heads: H)
        try kept.run(model: model, tok: tok, docIDs: doc, concentration: false, distance: 0)
        say("claims: normal attention over the same \(chunks * width) tokens")
        var normal = ClaimRun(chunks: 1, width: chunks * width, keepFirst: true, S: sr, R: sr, layers: L, heads: H)
        try normal.run(model: model, tok: tok, docIDs: doc, concentration: false, distance: 0)

        var results: [ClaimResult] = []
        results.append(ClaimStatistics.t1(dropped, t))
        let (t2d, sinkLayers) = ClaimStatistics.t2(dropped, t), (t2k, _) = ClaimStatistics.t2(kept, t)
        results.append(ClaimResult(id: "T2", claim: "In global attention the sink repeats once per chunk",
            statistic: "in sink-forming layers (median chunk-1 sink ratio > k), share of (head, chunk >= 2) whose first-\(sr)-key mass exceeds k x its uniform share",
            threshold: "> \(t.majority) holds, < \(t.minority) fails", verdict: verdict(t2d, t),
            numbers: ["share_first_token_dropped": t2d, "share_first_token_kept": t2k, "sink_forming_layers": Double(sinkLayers)]))
        let (t3d, t3q) = ClaimStatistics.t3(dropped), (t3k, _) = ClaimStatistics.t3(kept)
        var n3: [String: Double] = ["share_recent_gt_sink": t3d, "share_recent_gt_sink_first_token_kept": t3k]
        for q in 0..<4 { n3["quarter\(q + 1)"] = t3q[q] }
        results.append(ClaimResult(id: "T3", claim: "In global attention recency is stronger than the sink",
            statistic: "share of heads with summed recent mass > summed sink mass (official setting: later chunks' first token dropped)",
            threshold: "> \(t.majority) holds", verdict: verdict(t3d, t), numbers: n3))
        let (t4s, t4q) = ClaimStatistics.t4(dropped)
        var n4: [String: Double] = ["share_global_lower": t4s]
        for q in 0..<4 { n4["quarter\(q + 1)"] = t4q[q] }
        results.append(ClaimResult(id: "T4", claim: "Parallel (global) attention weakens within-chunk recency compared with local attention",
            statistic: "share of (head, chunk) whose recent fraction of the chunk's mass is lower in global than in local attention",
            threshold: "> \(t.majority) holds", verdict: verdict(t4s, t), numbers: n4))
        // T5: entropy and peaks, parallel against normal attention.
        var higherEntropy = 0, morePeaks = 0
        for l in 0..<L { for h in 0..<H {
            if dropped.globalEntropy[l * H + h] > normal.globalEntropy[l * H + h] { higherEntropy += 1 }
            if ClaimStatistics.peaks(dropped, l, h, k: t.k) > ClaimStatistics.peaks(normal, l, h, k: t.k) { morePeaks += 1 }
        } }
        let e5 = Double(higherEntropy) / Double(L * H), p5 = Double(morePeaks) / Double(L * H)
        results.append(ClaimResult(id: "T5", claim: "Parallel attention is flatter (higher entropy) but has more peaks than normal attention",
            statistic: "share of heads with higher question-row entropy, and with more key-score peaks (5-key moving average > k x median), parallel vs normal over the same tokens",
            threshold: "both > \(t.majority) holds; both < \(t.minority) fails", verdict: min(e5, p5) > t.majority ? "holds" : (max(e5, p5) < t.minority ? "fails" : "inconclusive"),
            numbers: ["share_higher_entropy": e5, "share_more_peaks": p5]))
        // T11: concentration against chunk width.
        var fr1: [Double] = [], fr4: [Double] = [], top: [Double] = []
        for w in ws {
            say("claims: T11 run, 2 chunks x \(w) tokens")
            var r = ClaimRun(chunks: 2, width: w, keepFirst: false, S: sr, R: sr, layers: L, heads: H)
            try r.run(model: model, tok: tok, docIDs: doc, concentration: true, distance: 0)
            fr1.append(mean(r.above[0])); fr4.append(mean(r.above[1])); top.append(mean(r.top1))
        }
        let falls = zip(fr1, fr1.dropFirst()).allSatisfy { $1 <= $0 } || zip(top, top.dropFirst()).allSatisfy { $1 >= $0 }
        let change = max(abs(fr1.last! / fr1.first! - 1), abs(top.last! / top.first! - 1))
        var n11: [String: Double] = [:]
        for (i, w) in ws.enumerated() { n11["above_1_over_w_at_\(w)"] = fr1[i]; n11["above_4_over_w_at_\(w)"] = fr4[i]; n11["top1pct_mass_at_\(w)"] = top[i] }
        results.append(ClaimResult(id: "T11", claim: "Effective attention entries become a smaller fraction of the chunk as the chunk grows",
            statistic: "mean over heads and local question rows of the share of chunk keys above c/w (c = 1, 4), and the top-1% keys' mass, for each width w",
            threshold: "share falls (or top-1% mass rises) monotonically with w and changes by > \(t.flat); flat is a failure",
            verdict: change < t.flat ? "fails" : (falls ? "holds" : "inconclusive"), numbers: n11))
        // T12: exponential versus power-law decay.
        let (expShare, rExp, rPow) = ClaimStatistics.t12(dropped)
        results.append(ClaimResult(id: "T12", claim: "Local attention decays exponentially with distance",
            statistic: "share of heads where log attention is fit better (R^2) by distance than by log distance, over distances 1..\(dropped.maxDistance - 1), excluding the first \(sr) keys",
            threshold: "> \(t.majority) holds, else fails", verdict: expShare > t.majority ? "holds" : "fails",
            numbers: ["share_exponential_better": expShare, "mean_r2_exponential": rExp, "mean_r2_power": rPow]))
        // T19: first-token mass against the number of chunks (every chunk keeps its first token).
        var sums: [Double] = [], perChunk: [Double] = [], firstShare: [Double] = []
        for C in cs {
            say("claims: T19 run, \(C) x \(countWidth) tokens, first tokens kept")
            var r = ClaimRun(chunks: C, width: countWidth, keepFirst: true, S: 1, R: 1, layers: L, heads: H)
            try r.run(model: model, tok: tok, docIDs: doc, concentration: false, distance: 0)
            var s = 0.0, f = 0.0
            for l in 0..<L { for h in 0..<H {
                let m = (0..<C).map { r.band(r.globalBand, l, h, $0, 0) }
                s += m.reduce(0, +); f += m[0]
            } }
            let n = Double(L * H)
            sums.append(s / n); perChunk.append(s / n / Double(C)); firstShare.append(s > 0 ? f / s : .nan)
        }
        var n19: [String: Double] = [:]
        for (i, C) in cs.enumerated() { n19["sum_first_token_mass_C\(C)"] = sums[i]; n19["per_chunk_C\(C)"] = perChunk[i]; n19["chunk1_share_C\(C)"] = firstShare[i] }
        let rises = sums.last! > sums.first! * (1 + t.flat), shrinks = perChunk.last! < perChunk.first!
        results.append(ClaimResult(id: "T19", claim: "Total first-token (sink) mass grows with the number of chunks while each chunk's share shrinks",
            statistic: "mean over heads of the global mass on every chunk's first token, summed and per chunk, for each chunk count",
            threshold: "sum rises by > \(t.flat) and per-chunk share falls; chunk 1 holding > 0.8 of the sum at the largest count fails",
            verdict: (firstShare.last ?? 0) > 0.8 ? "fails" : (rises && shrinks ? "holds" : "inconclusive"), numbers: n19))
        results.append(ClaimResult(id: "T20", claim: "Keeping or dropping later chunks' first tokens changes the bias statistics a lot",
            statistic: "T2 and T3 shares with later chunks' first token dropped versus kept",
            threshold: "a difference > \(t.flat) in either share holds", verdict: (abs(t2d - t2k) > t.flat || abs(t3d - t3k) > t.flat) ? "holds" : "fails",
            numbers: ["T2_dropped": t2d, "T2_kept": t2k, "T3_dropped": t3d, "T3_kept": t3k]))

        let secs = Date().timeIntervalSince(t0)
        try writeReport(results, thresholds: t, seconds: secs, sr: sr, fr1: fr1, top: top, ws: ws, sums: sums, perChunk: perChunk, cs: cs, model: model)
        if json {
            let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
            FileHandle.standardOutput.write(try enc.encode(results)); print()
        }
        say(String(format: "claims: %d verdicts in %.0f s -> %@/claims.md", results.count, secs, outDir))
    }

    func verdict(_ share: Double, _ t: ClaimThresholds) -> String {
        share.isNaN ? "inconclusive" : (share > t.majority ? "holds" : (share < t.minority ? "fails" : "inconclusive"))
    }
    func mean(_ a: [Float]) -> Double { let v = a.filter { !$0.isNaN }; return v.isEmpty ? .nan : v.reduce(0.0) { $0 + Double($1) } / Double(v.count) }

    func writeReport(_ results: [ClaimResult], thresholds t: ClaimThresholds, seconds: Double, sr: Int, fr1: [Double], top: [Double], ws: [Int],
                     sums: [Double], perChunk: [Double], cs: [Int], model: LlamaModel) throws {
        var md = """
        # Attention-bias claims on \(model.config.name)

        Generated by `biasprobe claims` in \(Int(seconds)) s. Main run: \(chunks) chunks x \(width) essay tokens, every chunk \
        kept, question "What are these essays about?"; bands S = R = \(sr) keys (about 2.5 % of a chunk); k = \(t.k); \
        a claim holds when more than \(t.majority) of the heads (or head-chunk pairs) agree and fails below \(t.minority).

        | claim | verdict | statistic | numbers |
        |---|---|---|---|

        """
        for r in results {
            let nums = r.numbers.sorted { $0.key < $1.key }.map { "\($0.key) = \(String(format: "%.3g", $0.value))" }.joined(separator: "; ")
            md += "| **\(r.id)** \(r.claim) | **\(r.verdict)** | \(r.statistic) (\(r.threshold)) | \(nums) |\n"
        }
        md += "\n![T11](t11_concentration.png)\n\n![T19](t19_first_token_mass.png)\n"
        try md.write(toFile: outDir + "/claims.md", atomically: true, encoding: .utf8)
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        try enc.encode(results).write(to: URL(fileURLWithPath: outDir + "/claims.json"))
        let chart11 = LineChart(series: [Series(name: "share of keys above 1/w", x: ws.map(Double.init), y: fr1, markers: true),
                                         Series(name: "mass of the top 1% keys", x: ws.map(Double.init), y: top, markers: true)],
                                title: "T11: local attention concentration vs chunk width",
                                xLabel: "chunk width w (tokens)", yLabel: "share / mass", logY: false)
        try Figure.lineChart(chart11).write(to: outDir + "/t11_concentration.png")
        let chart19 = LineChart(series: [Series(name: "sum over chunks", x: cs.map(Double.init), y: sums, markers: true),
                                         Series(name: "per chunk", x: cs.map(Double.init), y: perChunk, markers: true)],
                                title: "T19: global mass on chunks' first tokens vs chunk count",
                                xLabel: "chunks", yLabel: "attention mass", logY: false)
        try Figure.lineChart(chart19).write(to: outDir + "/t19_first_token_mass.png")
    }
}
