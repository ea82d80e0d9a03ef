import Foundation

/// The one JSON configuration for everything biasprobe writes or reads: `--json` lines, file
/// rows (eval, claims, lab), part headers, manifests, stored settings and reports.
///
/// - Keys are sorted, so the same value always gives the same bytes (parts merge byte for byte,
///   settings strings compare, files diff cleanly).
/// - Slashes are not escaped (`"out":"runs/a.h5"`, as the `--json` lines always printed them).
/// - Non-finite numbers, which JSON has no literal for, are the strings "nan", "inf" and
///   "-inf" (what the claims, eval and lab reports already wrote); the decoder reads them back,
///   so a NaN survives a round trip instead of failing the encode.
public enum JSONCoding {
    public static let nan = "nan", infinity = "inf", negativeInfinity = "-inf"

    /// `pretty`: indented, for files people read (claims.json, manifests).
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted] : [.sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: infinity, negativeInfinity: negativeInfinity, nan: nan)
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: infinity, negativeInfinity: negativeInfinity, nan: nan)
        return d
    }

    /// One compact line (no newline).
    public static func line<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder().encode(value), as: UTF8.self)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from text: some StringProtocol) throws -> T {
        try decoder().decode(type, from: Data(text.utf8))
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try decoder().decode(type, from: data)
    }
}
