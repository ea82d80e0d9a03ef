import Foundation
import PCInference

/// A pipeline setting a sweep can vary. The names are the `run`/`eval` option names.
public enum SweepParameter: String, CaseIterable, Codable {
    case keepChunks = "keep-chunks", chunkTokens = "chunk-tokens", capacity, window, kernel, lambda
    case calibration, bandWidth = "band-width", calibrationRows = "calibration-rows"
    /// The eviction lab (docs/eviction-lab.md): a policy name ("tova+decode", "h2o+decode": with
    /// `--decode-eviction`), "off" (no lab policy) or "calibration" (no lab policy, the paper's
    /// calibration recipe: `--calibration paper`), its budget or ratio.
    case policy, budget, ratio

    /// Values are separated by commas, except calibration rules, which contain commas: ';'.
    public var separator: Character { self == .calibration ? ";" : "," }
}

/// A `--vary` axis or value that does not parse or combine (the command line reports it as a usage error).
public struct SweepGridError: Error, CustomStringConvertible {
    let head: String
    /// The eviction-lab setting a point makes invalid, for the caller to put in its own words.
    public let setting: SettingError?
    let tail: String
    init(_ d: String) { head = d; setting = nil; tail = "" }
    init(_ head: String, setting: SettingError, _ tail: String) { self.head = head; self.setting = setting; self.tail = tail }
    public var description: String { text { "\($0)" } }
    /// The message with `setting` described by `describe`.
    public func text(_ describe: (SettingError) -> String) -> String { head + (setting.map(describe) ?? "") + tail }
}

/// One value of a parameter: a number, "off" (compression or calibration disabled) or a rule list.
public struct SweepValue: Codable, Equatable, CustomStringConvertible {
    public var text: String
    /// Numeric value for plotting (nil for "off" and for calibration rules).
    public var number: Double? { Double(text) }
    public var description: String { text }
}

/// `--vary name=v1,v2,...` (repeatable; a name given twice adds values).
public struct SweepAxis: Codable, Equatable {
    public var parameter: SweepParameter
    public var values: [SweepValue]

    public static func parse(_ s: String) throws -> SweepAxis {
        guard let eq = s.firstIndex(of: "="), let p = SweepParameter(rawValue: String(s[..<eq]).trimmingCharacters(in: .whitespaces)) else {
            throw SweepGridError("--vary '\(s)' is not NAME=V1,V2,... with NAME one of \(SweepParameter.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let vals = s[s.index(after: eq)...].split(separator: p.separator).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !vals.isEmpty else { throw SweepGridError("--vary \(p.rawValue) has no values") }
        return SweepAxis(parameter: p, values: vals.map { SweepValue(text: $0) })
    }

    /// Merge repeated names, keeping first-seen order and dropping duplicate values.
    public static func merged(_ axes: [SweepAxis]) -> [SweepAxis] {
        var out: [SweepAxis] = []
        for a in axes {
            if let i = out.firstIndex(where: { $0.parameter == a.parameter }) {
                for v in a.values where !out[i].values.contains(v) { out[i].values.append(v) }
            } else { out.append(SweepAxis(parameter: a.parameter, values: a.values.reduce(into: []) { if !$0.contains($1) { $0.append($1) } })) }
        }
        return out
    }
}

/// One grid point: a value per axis.
public struct SweepPoint: Equatable {
    public var values: [SweepParameter: SweepValue]
    /// Stable name, e.g. "keep-chunks=1 capacity=off" (the resume key).
    public func label(axes: [SweepAxis]) -> String {
        axes.map { "\($0.parameter.rawValue)=\(values[$0.parameter]!.text)" }.joined(separator: " ")
    }

    /// The base configuration with this point's values applied; throws on a value that does not parse.
    public func apply(to base: ParallelCompConfig, layerCount: Int) throws -> ParallelCompConfig {
        var c = base
        func int(_ p: SweepParameter, min lo: Int) throws -> Int {
            guard let v = Int(values[p]!.text), v >= lo else { throw SweepGridError("--vary \(p.rawValue): '\(values[p]!.text)' is not a whole number >= \(lo)") }
            return v
        }
        for (p, v) in values {
            switch p {
            case .keepChunks: c.keepChunks = try int(p, min: 1)
            case .chunkTokens: c.chunkTokens = try int(p, min: 32)
            case .capacity:
                if v.text == "off" { c.compression = nil }
                else {
                    let cap = try int(p, min: 1)
                    c.compression = .init(capacity: cap, window: c.compression?.window ?? 8, kernel: c.compression?.kernel ?? 7)
                }
            case .window, .kernel, .budget, .ratio: break   // applied after capacity and policy, below
            case .policy:
                if v.text == "off", let lab = base.evictionLab, lab.oracleChunk {
                    // No eviction, but the evidence chunk still kept: the oracle setting's reference row.
                    c.evictionLab = EvictionLabSettings(kind: .streaming, ratio: 1, sink: 0, oracleChunk: true)
                } else if v.text == "off" { c.evictionLab = nil }
                else if v.text == "calibration" { c.evictionLab = nil; c.calibration = try CalibrationRule.parseList("paper", layerCount: layerCount) }
                else {
                    // Variants: NAME+decode (eviction during decoding), NAME+qh (selection per query head).
                    var name = v.text
                    let decode = name.hasSuffix("+decode"); if decode { name = String(name.dropLast("+decode".count)) }
                    let perQuery = name.hasSuffix("+qh"); if perQuery { name = String(name.dropLast("+qh".count)) }
                    guard let k = EvictionLabSettings.Kind(rawValue: name) else {
                        throw SweepGridError("--vary policy: '\(v.text)' is not off, calibration, one of \(EvictionLabSettings.Kind.allCases.map(\.rawValue).joined(separator: ", ")) (NAME+qh: per query head), tova+decode or h2o+decode")
                    }
                    var lab = c.evictionLab ?? EvictionLabSettings(kind: k)
                    lab.kind = k
                    lab.decodeEviction = decode
                    lab.perQueryHead = perQuery || (base.evictionLab?.perQueryHead ?? false)
                    if decode && lab.decodePolicy(keep: 0) == nil {
                        throw SweepGridError("--vary policy: '\(v.text)': eviction during decoding is defined for tova and h2o only")
                    }
                    c.evictionLab = lab
                }
            case .lambda:
                guard let l = Float(v.text), l > 0, l < 1 else { throw SweepGridError("--vary lambda: '\(v.text)' is not between 0 and 1") }
                c.lambda = l
            case .calibration: c.calibration = try CalibrationRule.parseList(v.text, layerCount: layerCount)
            case .bandWidth: c.bandWidth = try int(p, min: 1)
            case .calibrationRows: c.calibrationRows = try int(p, min: 1)
            }
        }
        if values[.budget] != nil || values[.ratio] != nil, c.evictionLab != nil, values[.policy]?.text != "off" {
            // A budget axis replaces the base's ratio and the other way round.
            if values[.budget] != nil { c.evictionLab!.budget = try int(.budget, min: 1); c.evictionLab!.ratio = nil }
            if let r = values[.ratio] {
                guard let x = Double(r.text), x > 0, x <= 1 else { throw SweepGridError("--vary ratio: '\(r.text)' is not in (0, 1]") }
                c.evictionLab!.ratio = x; c.evictionLab!.budget = nil
            }
        }
        if let lab = c.evictionLab {
            do { try lab.check() } catch { throw SweepGridError("--vary policy=\(lab.kind.rawValue): ", setting: error, " (give --budget N or --ratio R, or vary budget)") }
        }
        if values[.window] != nil || values[.kernel] != nil {
            // Window and kernel only mean something with compression on.
            if c.compression != nil {
                if values[.window] != nil { c.compression!.window = try int(.window, min: 1) }
                if values[.kernel] != nil {
                    let k = try int(.kernel, min: 1)
                    guard k % 2 == 1 else { throw SweepGridError("--vary kernel: \(k) is not odd") }
                    c.compression!.kernel = k
                }
            }
        }
        return c
    }

    /// Every combination, the first axis varying slowest.
    public static func grid(_ axes: [SweepAxis]) -> [SweepPoint] {
        var points = [SweepPoint(values: [:])]
        for a in axes {
            points = points.flatMap { p in a.values.map { v in var q = p; q.values[a.parameter] = v; return q } }
        }
        return points
    }
}
