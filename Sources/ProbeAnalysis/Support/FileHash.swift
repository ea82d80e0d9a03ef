import COpenSSL
import Foundation

/// Hex SHA-256 of a file, streamed; cached beside the file as `<file>.sha256` ("hash size
/// mtime-ns"), so a multi-gigabyte model is hashed once, not at every trace (issue #15: time to
/// first token). The cache is used only while the file's size and modification time match; a
/// folder that cannot be written just means hashing again next time.
public func sha256(of path: String) throws -> String {
    let stamp = fileStamp(path)
    let cachePath = path + ".sha256"
    if let stamp, let text = try? String(contentsOfFile: cachePath, encoding: .utf8) {
        let parts = text.split(separator: " ").map(String.init)
        if parts.count == 3, parts[1] + " " + parts[2].trimmingCharacters(in: .whitespacesAndNewlines) == stamp,
           parts[0].count == 64, parts[0].allSatisfy(\.isHexDigit) {
            return parts[0]
        }
    }
    guard let h = FileHandle(forReadingAtPath: path) else { throw AnalysisError("cannot read \(path)") }
    defer { try? h.close() }
    let hasher = SHA256Hasher()
    while let chunk = try h.read(upToCount: 1 << 22), !chunk.isEmpty { hasher.update(chunk) }
    let hex = hasher.hexDigest()
    if let stamp, fileStamp(path) == stamp { try? (hex + " " + stamp + "\n").write(toFile: cachePath, atomically: true, encoding: .utf8) }
    return hex
}

/// "size mtime-nanoseconds" of a regular file, or nil.
private func fileStamp(_ path: String) -> String? {
    var st = stat()
    guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
    return "\(st.st_size) \(Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))"
}

/// SHA-256 through libcrypto's EVP interface (Debian's OpenSSL: no third-party crypto to build).
public final class SHA256Hasher {
    private let ctx: OpaquePointer

    public init() {
        guard let c = EVP_MD_CTX_new(), EVP_DigestInit_ex(c, EVP_sha256(), nil) == 1 else {
            fatalError("libcrypto cannot start a SHA-256 digest")
        }
        ctx = c
    }
    deinit { EVP_MD_CTX_free(ctx) }

    // The EVP calls fail only when libcrypto itself is broken or the hasher is misused (update or
    // hexDigest after hexDigest: one digest per hasher); a failure stops the program rather than
    // yield a wrong hash.
    public func update(_ data: Data) {
        let ok = data.withUnsafeBytes { b in EVP_DigestUpdate(ctx, b.baseAddress, b.count) }
        guard ok == 1 else { fatalError("libcrypto failed to hash \(data.count) bytes") }
    }

    public func hexDigest() -> String {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE)), n: UInt32 = 0
        guard EVP_DigestFinal_ex(ctx, &out, &n) == 1, n == 32 else { fatalError("libcrypto failed to finish a SHA-256 digest") }
        return out.prefix(Int(n)).map { String(format: "%02x", $0) }.joined()
    }

    /// Hex SHA-256 of a string's UTF-8 bytes.
    public static func hex(_ text: String) -> String {
        let h = SHA256Hasher()
        h.update(Data(text.utf8))
        return h.hexDigest()
    }
}
