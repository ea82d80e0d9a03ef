import Foundation

/// The pre-registered protocol the claims run under: docs/claims-protocol.md fixes every
/// statistic, threshold, minimum effect, test and n. Its sha256 is pinned here and written into
/// every output, and a test fails when the document and this hash disagree: the protocol cannot
/// change without a new version (and date) here and in the document.
public enum ClaimProtocol {
    public static let version = "3"
    public static let date = "2026-12-07"
    /// sha256 of docs/claims-protocol.md as committed for this version.
    public static let sha256 = "189d31a4318aeff3c3f6951dad5f337f42f93e820d7a5542db2b1727641791c8"
    /// Below this mean number of keys evicted per intervened (layer, head) and chunk pass, an
    /// intervention claim has no manipulation to test.
    public static let minimumEvictedPerHead = 1.0

    public static var line: String { "claims protocol v\(version) (\(date)), docs/claims-protocol.md sha256 \(sha256)" }
}
