import Foundation

/// A diagnostic line on stderr (never stdout, which carries `--json` output).
public enum Log {
    public static func info(_ s: String) { FileHandle.standardError.write((s + "\n").data(using: .utf8)!) }
}
