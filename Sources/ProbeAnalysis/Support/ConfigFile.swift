import Foundation
import PCInference

/// A JSON value, to look at a config file's keys before decoding it.
public indirect enum JSONValue: Codable, Equatable, Sendable {
    case object([String: JSONValue]), array([JSONValue]), string(String), number(Double), bool(Bool), null

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .object(let o): try c.encode(o)
        case .array(let a): try c.encode(a)
        case .string(let s): try c.encode(s)
        case .number(let n): try c.encode(n)
        case .bool(let b): try c.encode(b)
        case .null: try c.encodeNil()
        }
    }

    public var object: [String: JSONValue]? { if case .object(let o) = self { return o }; return nil }
}

/// `--config FILE`: a pipeline configuration as `--json` prints it (the bare object, or the
/// `{"config": {...}, ...}` report around it). Unknown keys are refused with the nearest valid
/// name (a typo must not silently become a default); type errors name the field.
public enum ConfigFile {
    public static func read(_ path: String) throws -> ParallelCompConfig {
        let data = try InputFile.data(path, option: "--config")
        let tree: JSONValue
        do { tree = try JSONCoding.decode(JSONValue.self, from: data) }
        catch { throw AnalysisError("--config \(path) is not valid JSON: \(describe(error))") }
        guard var object = tree.object else { throw AnalysisError("--config \(path) must hold a JSON object (a pipeline config), not \(kind(tree))") }
        var prefix = ""
        if let inner = object["config"] {
            // The report `run --json` / `eval --json` print: its "config" member.
            guard let o = inner.object else { throw AnalysisError("--config \(path): \"config\" must be an object, not \(kind(inner))") }
            object = o
            prefix = "config."
        }
        try checkKeys(object, against: reference, path: path, prefix: prefix)
        do {
            if prefix.isEmpty { return try JSONCoding.decode(ParallelCompConfig.self, from: data) }
            return try JSONCoding.decode(Report.self, from: data).config
        } catch { throw AnalysisError("--config \(path): \(describe(error))") }
    }

    /// The part of a --json report a config file may be.
    private struct Report: Decodable { let config: ParallelCompConfig }

    /// Every key a config can hold, with nested objects: a config with every optional part set.
    public static let reference: [String: JSONValue] = {
        var c = ParallelCompConfig()
        c.chunkTokens = 1
        c.compression = .init(capacity: 1)
        c.evictionLab = EvictionLabSettings(kind: .streaming, budget: 1, ratio: 0.5)
        c.calibration = [CalibrationRule(band: .sink, layers: 0...0, stage: .chunk)]
        let data = (try? JSONCoding.encoder().encode(c)) ?? Data("{}".utf8)
        return (try? JSONCoding.decode(JSONValue.self, from: data))?.object ?? [:]
    }()

    public static func checkKeys(_ object: [String: JSONValue], against ref: [String: JSONValue], path: String, prefix: String) throws {
        for key in object.keys.sorted() {
            guard let r = ref[key] else {
                let near = nearest(key, in: Array(ref.keys))
                throw AnalysisError("--config \(path): unknown key \"\(prefix)\(key)\"" + (near.map { "; did you mean \"\($0)\"?" } ?? "")
                               + " (valid: \(ref.keys.sorted().joined(separator: ", ")))")
            }
            if let inner = object[key]?.object, let refInner = r.object {
                try checkKeys(inner, against: refInner, path: path, prefix: prefix + key + ".")
            } else if case .array(let items) = object[key]!, case .array(let refItems) = r, let refItem = refItems.first?.object {
                for item in items { if let o = item.object { try checkKeys(o, against: refItem, path: path, prefix: prefix + key + "[].") } }
            }
        }
    }

    /// The valid name closest to `key` by edit distance, if it is close at all.
    public static func nearest(_ key: String, in names: [String]) -> String? {
        let scored = names.map { ($0, editDistance(key.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }) else { return nil }
        return best.1 <= max(2, key.count / 3) ? best.0 : nil
    }

    public static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        var prev = Array(0...y.count)
        for i in 1...max(1, x.count) where !x.isEmpty {
            var cur = [i] + Array(repeating: 0, count: y.count)
            for j in stride(from: 1, through: y.count, by: 1) {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return x.isEmpty ? y.count : prev[y.count]
    }

    public static func kind(_ v: JSONValue) -> String {
        switch v {
        case .object: return "an object"
        case .array: return "an array"
        case .string: return "a string"
        case .number: return "a number"
        case .bool: return "true/false"
        case .null: return "null"
        }
    }

    /// A decoding error as "field keepChunks: expected Int, found a string" instead of
    /// Foundation's "The data couldn't be read because it isn't in the correct format."
    public static func describe(_ error: Error) -> String {
        func field(_ path: [CodingKey]) -> String {
            let p = path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
            return p.isEmpty ? "the top level" : "field \"\(p)\""
        }
        switch error {
        case DecodingError.typeMismatch(let type, let ctx):
            return "\(field(ctx.codingPath)): expected \(typeName(type)) (\(ctx.debugDescription))"
        case DecodingError.valueNotFound(let type, let ctx):
            return "\(field(ctx.codingPath)): expected \(typeName(type)), found null"
        case DecodingError.keyNotFound(let key, let ctx):
            return "\(field(ctx.codingPath + [key])) is missing"
        case DecodingError.dataCorrupted(let ctx):
            let under = (ctx.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return "\(field(ctx.codingPath)): \(ctx.debugDescription)" + (under.map { " (\($0))" } ?? "")
        default:
            return "\(error)"
        }
    }

    public static func typeName(_ t: Any.Type) -> String {
        switch t {
        case is Int.Type, is Int64.Type, is UInt64.Type: return "an integer"
        case is Float.Type, is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        default: return "\(t)"
        }
    }
}

