import Foundation
import PCInference

/// The lab's results in kvpress's leaderboard layout (NVIDIA/kvpress evaluation/evaluate.py):
/// one folder per method and compression ratio, named
/// `ruler__<length>__<model>__<press>__<compression ratio, 2 decimals>` (kvpress's
/// dataset__data_dir__model__press__ratio), holding `predictions.csv` (one row per example and
/// task, without the context), `metrics.json` (RULER per task: {"string_match": percent}) and
/// `config.yaml`. kvpress's compression_ratio is the fraction removed: 1 - our kept ratio; off is
/// kvpress's `no_press` at 0.00. The ParallelComp setting's folders end in `__parallelcomp`.
/// Each folder also holds `accounting.json`: what only this tool shows (kept fraction per band
/// and per layer, heads still holding the evidence, evidence attention lost).
public enum KVPressExport {
    /// kvpress's registry name for a lab point's policy where the semantics match; our own name
    /// (with our settings in config.yaml) where they do not.
    public static func pressName(_ policy: String) -> String {
        switch policy {
        case "off": return "no_press"
        case "streaming": return "streaming_llm"
        case "snapkv-kvpress": return "snapkv"
        case "snapkv": return "snapkv_32_5"          // SnapKV's own window 32 / kernel 5
        case "pc-snapkv": return "parallelcomp_snapkv"
        case "h2o": return "h2o_heavy_recent"          // not kvpress's observed_attention (no recent half there)
        default: return policy                        // tova, pyramidkv, knorm, random
        }
    }

    public static func csv(_ s: String) -> String {
        s.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    /// A Python-style list literal, as pandas writes a list column.
    public static func pyList(_ v: [String]) -> String { "[" + v.map { "'" + $0.replacingOccurrences(of: "'", with: "\\'") + "'" }.joined(separator: ", ") + "]" }

    public static func write(_ rows: [LabExampleRow], analyses: [LabAnalysis], model: String, to dir: String) throws -> [String] {
        let fm = FileManager.default
        var written: [String] = []
        let modelName = ((model as NSString).lastPathComponent as NSString).deletingPathExtension
        for a in analyses {
            let mine = rows.filter { $0.setting == a.setting && $0.tokens == a.tokens }
            guard let first = mine.first else { continue }
            for (p, name) in first.points.map(\.pointName).enumerated() {
                let point = first.points[p]
                let compression = point.ratio.map { 1 - $0 } ?? 0
                var parts = ["ruler", String(a.tokens), modelName, pressName(point.policy), String(format: "%.2f", compression)]
                if a.setting != EvictionLabSettings.Setting.kvpress.rawValue { parts.append(a.setting) }
                let folder = (dir as NSString).appendingPathComponent(parts.joined(separator: "__"))
                try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
                var lines = ["task,index,answer,predicted_answer,compression_ratio,score,answer_nll,kv_bytes,depth,seed"]
                var perTask: [String: [Double]] = [:]
                for r in mine where r.points.count > p && r.points[p].pointName == name {
                    let x = r.points[p]
                    let task = r.task.hasPrefix("ruler_") ? String(r.task.dropFirst(6)) : r.task   // RULER's own names (vt, cwe, fwe)
                    perTask[task, default: []].append(x.score)
                    lines.append([task, String(r.example), csv(pyList(r.references)), csv(x.answer), String(format: "%.2f", compression),
                                  String(x.score), x.answerNLL.map { String($0) } ?? "", x.kvBytes.map { String(Int($0)) } ?? "",
                                  String(r.depth), String(r.seed)].joined(separator: ","))
                }
                try (lines.joined(separator: "\n") + "\n").write(toFile: folder + "/predictions.csv", atomically: true, encoding: .utf8)
                // RULER's per-task metric as kvpress reports it: percent, two decimals.
                let metrics = perTask.mapValues { ["string_match": (($0.reduce(0, +) / Double($0.count)) * 10000).rounded() / 100] }
                try JSONCoding.encoder(pretty: true).encode(metrics).write(to: URL(fileURLWithPath: folder + "/metrics.json"))
                let ref = EvictionLabSettings.Kind(rawValue: point.policy).map { EvictionLabSettings.reference($0).source } ?? "no eviction"
                let yaml = """
                dataset: ruler
                data_dir: '\(a.tokens)'
                model: \(modelName)
                press_name: \(pressName(point.policy))
                compression_ratio: \(String(format: "%.4f", compression))
                kept_ratio: \(point.ratio.map { String($0) } ?? "1.0")
                biasprobe_policy: \(point.policy)
                biasprobe_setting: \(a.setting)
                reference: '\(ref.replacingOccurrences(of: "'", with: "''"))'
                budget_semantics: per KV head, scores averaged over the query group (kvpress)
                examples_per_task: \(a.examples.values.min() ?? 0)
                max_context_length: \(a.tokens)
                compress_questions: false

                """
                try yaml.write(toFile: folder + "/config.yaml", atomically: true, encoding: .utf8)
                if let row = a.rows.first(where: { $0.point == name }) {
                    struct Accounting: Encodable {
                        var keptBand: [String: Double]; var keptLayer: [Double]; var evidenceHeldAll: Double?; var evidenceHeldAny: Double?
                        var evidenceMassLost: Double?; var kvBytes: Double?
                        enum CodingKeys: String, CodingKey {
                            case keptBand = "kept_band", keptLayer = "kept_layer", evidenceHeldAll = "evidence_held_all"
                            case evidenceHeldAny = "evidence_held_any", evidenceMassLost = "evidence_mass_lost", kvBytes = "kv_bytes"
                        }
                    }
                    let perLayer = mine.compactMap { $0.points.count > p ? $0.points[p].keptLayer : nil }
                    let L = perLayer.map(\.count).max() ?? 0
                    let layerMeans = (0..<L).map { l in LabAnalysis.mean(perLayer.map { $0.count > l ? $0[l] : nil }) ?? .nan }
                    let acc = Accounting(keptBand: row.keptBand, keptLayer: layerMeans, evidenceHeldAll: row.evidenceHeldAll,
                                         evidenceHeldAny: row.evidenceHeldAny, evidenceMassLost: row.evidenceMassLost, kvBytes: row.kvBytes)
                    try JSONCoding.encoder(pretty: true).encode(acc).write(to: URL(fileURLWithPath: folder + "/accounting.json"))
                }
                written.append(folder)
            }
        }
        return written
    }
}
