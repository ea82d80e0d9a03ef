import Foundation
import PCInference

/// Runs examples into rows: every run of an example, then every claim's numbers from them.
public struct ClaimSession {
    public let model: LlamaModel
    public let tok: Tokenizer
    public let settings: ClaimSettings
    public let doc: [Int]
    public let claims: [any Claim]
    /// Whether an example's runs share their finished chunk passes (`ChunkPassMemo`; the same
    /// numbers either way). Only the essay and continuation runs repeat passes (each pass-key and
    /// few-shot run differs from the others in its chunk-stage calibration or its question),
    /// and no two runners share a chunk (their widths differ), so each of those two gets a memo
    /// of its own, freed when it returns: memory does not grow with the run.
    public var reusePasses = true
    /// Log each runner's seconds and each essay run's (`claims run` sets it from
    /// BIASPROBE_CLAIMS_TIMING).
    public var logTiming = false
    public init(model: LlamaModel, tok: Tokenizer, settings: ClaimSettings, doc: [Int], claims: [any Claim], reusePasses: Bool = true) {
        self.model = model; self.tok = tok; self.settings = settings; self.doc = doc; self.claims = claims; self.reusePasses = reusePasses
    }

    public func row(_ ex: ClaimExample) throws -> ExampleRow {
        let t0 = Date()
        var reuse: [String] = []
        /// One runner's runs with a memo of their own, released (and counted) when they end.
        func sharingPasses<T>(_ runner: String, _ body: (ChunkPassMemo?) throws -> T) rethrows -> T {
            let m = reusePasses ? ChunkPassMemo() : nil
            defer { if let m { reuse.append("\(runner) \(m.hits) chunk passes reused, \(m.stores) stored (\(m.bytes / 1_000_000) MB)") } }
            return try body(m)
        }
        let essay = try sharingPasses("essay") {
            var runner = EssayRunner(model: model, tok: tok, settings: settings, doc: doc, passes: $0)
            runner.logTiming = logTiming
            return try runner.run(ex)
        }
        let t1 = Date()
        let pk = PasskeyRunner(model: model, tok: tok, settings: settings, doc: doc)
        let passkey = try pk.run(ex)
        let passkeyScaled = try pk.run(ex, scaledLambda: true, base: passkey.base)
        let t2 = Date()
        let cont = try sharingPasses("continuation") { try ContinuationRunner(model: model, tok: tok, settings: settings, doc: doc, passes: $0).run(ex) }
        let t3 = Date()
        let fewShot = try FewShotRunner(model: model, tok: tok, settings: settings).run(ex)
        let t4 = Date()
        let ranking = try ChunkRankingRunner(model: model, tok: tok, settings: settings, doc: doc).run(ex)
        if logTiming {
            Log.info(String(format: "claims timing: essay %.1f s, passkey %.1f s, continuation %.1f s, few-shot %.1f s, ranking %.1f s",
                            t1.timeIntervalSince(t0), t2.timeIntervalSince(t1), t3.timeIntervalSince(t2), t4.timeIntervalSince(t3), Date().timeIntervalSince(t4)))
            for line in reuse { Log.info("claims timing: " + line) }
        }
        let runs = ExampleRuns(essay: essay, passkey: passkey, continuation: cont, fewShot: fewShot, ranking: ranking, passkeyScaled: passkeyScaled)
        var numbers: [String: [String: Double]] = [:]
        for c in claims { if let m = c.measure(runs) { numbers[c.id] = m } }
        var arrays = OutlierMapClaim.maps(essay)
        arrays["t12_profile"] = ExponentialDecayClaim.meanProfile(essay)
        return ExampleRow(example: ex, claims: numbers, arrays: arrays, seconds: Date().timeIntervalSince(t0))
    }

    /// One row as the JSON line written to examples.jsonl (sorted keys: the same row, the same text).
    public static func line(_ row: ExampleRow) throws -> String { try JSONCoding.line(row) }
    public static func parse(_ line: String) throws -> ExampleRow { try JSONCoding.decode(ExampleRow.self, from: line) }
}
