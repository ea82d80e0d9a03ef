import Foundation
import XCTest

/// `lab run` then `lab report --export` end to end, as notebook 07 drives them: rows per example
/// with every point, resuming without re-running, the report's ranking and accounting, and the
/// kvpress-layout export (one folder per method and compression ratio). Tiny sizes and the tiny
/// test model: what is checked is the plumbing, not a ranking.
final class LabCommandTests: XCTestCase {
    struct Row: Decodable {
        struct Point: Decodable { var policy: String; var ratio: Double?; var score: Double; var kv_bytes: Double? }
        var task: String; var example: Int; var points: [Point]
    }
    struct Analysis: Decodable {
        struct R: Decodable { var point: String; var tier: Int }
        var setting: String; var tokens: Int; var examples: [String: Int]; var rows: [R]; var ranked: [String]; var droppedAtFloor: [String]
    }

    func testRunResumeReportAndExport() throws {
        let model = try TinyModel.path()
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("lab.jsonl").path
        let args = ["lab", "run", "--model", model, "--setting", "kvpress", "--length", "384", "--examples", "1",
                    "--tasks", "niah_single_1,ruler_vt", "--policies", "streaming,snapkv", "--ratios", "0.5",
                    "--max-tokens", "4", "-o", out, "--quiet"]
        let r = try CLI.run(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        let text = try String(contentsOfFile: out, encoding: .utf8)
        let rows = try text.split(separator: "\n").map { try JSONDecoder().decode(Row.self, from: Data($0.utf8)) }
        XCTAssertEqual(rows.count, 2, "2 tasks x 1 example")
        XCTAssertEqual(Set(rows.map(\.task)), ["niah_single_1", "ruler_vt"])
        for row in rows {
            XCTAssertEqual(row.points.map(\.policy), ["off", "streaming", "snapkv"], "off, then each policy at each ratio")
            XCTAssertEqual(row.points.dropFirst().map(\.ratio), [0.5, 0.5])
            // Budgets are memory: at ratio 0.5 a policy stores about half of off's KV.
            if let off = row.points[0].kv_bytes, let half = row.points[1].kv_bytes { XCTAssertLessThan(half, off * 0.75) }
        }

        // Resuming: every row is there, so nothing runs and the file is unchanged.
        XCTAssertEqual(try CLI.run(args).status, 0)
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), text, "a resumed run rewrote finished rows")

        let export = dir.appendingPathComponent("export").path
        let rep = try CLI.run(["lab", "report", out, "--export", export, "--json"])
        XCTAssertEqual(rep.status, 0, rep.stderr)
        let analyses = try JSONDecoder().decode([Analysis].self, from: Data(rep.stdout.utf8))
        XCTAssertEqual(analyses.count, 1, "one setting and length")
        let a = try XCTUnwrap(analyses.first)
        XCTAssertEqual(a.setting, "kvpress")
        XCTAssertEqual(a.tokens, 384)
        XCTAssertEqual(a.examples["ruler_vt"], 1)
        // Every point has a row with its tier; a task is ranked or dropped at floor, never both.
        XCTAssertEqual(Set(a.rows.map(\.point)), ["off", "streaming@0.5", "snapkv@0.5"])
        XCTAssertEqual(Set(a.ranked + a.droppedAtFloor), ["niah_single_1", "ruler_vt"])
        XCTAssertTrue(Set(a.ranked).isDisjoint(with: a.droppedAtFloor))

        let folders = try FileManager.default.contentsOfDirectory(atPath: export).sorted()
        // `lab report` names folders after its own --model (default: the default model), not the run's.
        let name = ((CLI.modelPath as NSString).lastPathComponent as NSString).deletingPathExtension
        XCTAssertEqual(folders, ["ruler__384__\(name)__no_press__0.00", "ruler__384__\(name)__snapkv_32_5__0.50",
                                 "ruler__384__\(name)__streaming_llm__0.50"].sorted())
        for f in folders {
            let files = Set(try FileManager.default.contentsOfDirectory(atPath: export + "/" + f))
            XCTAssertTrue(files.isSuperset(of: ["predictions.csv", "metrics.json", "config.yaml"]), "\(f): \(files.sorted())")
            let csv = try String(contentsOfFile: export + "/" + f + "/predictions.csv", encoding: .utf8)
            // One record per example and task (an answer may hold a quoted newline).
            let records = csv.split(separator: "\n").filter { $0.hasPrefix("niah_single_1,") || $0.hasPrefix("vt,") }
            XCTAssertEqual(records.count, 2, "\(f): one record per example and task")
            XCTAssertTrue(csv.hasPrefix("task,index,answer,predicted_answer,compression_ratio,score"), f)
            let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: export + "/" + f + "/metrics.json"))) as? [String: Any]
            XCTAssertEqual(Set(metrics?.keys.map { $0 } ?? []), ["niah_single_1", "vt"], "\(f): RULER's task names")
        }
    }

    /// Bad input is refused in one line before any file is written.
    func testBadRatioIsRefusedBeforeWork() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("lab.jsonl").path
        let r = try CLI.run(["lab", "run", "--length", "512", "--examples", "1", "--ratios", "0.5,1.5", "-o", out, "--quiet"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--ratios"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
