import Foundation

/// The pre-registered protocol the claims run under: docs/claims-protocol.md fixes every
/// statistic, threshold, minimum effect, test and n. Its sha256 is pinned here and written into
/// every output, and a test fails when the document and this hash disagree: the protocol cannot
/// change without a new version (and date) here and in the document.
public enum ClaimProtocol {
    public static let version = "2"
    public static let date = "2026-12-07"
    /// sha256 of docs/claims-protocol.md as committed for this version.
    public static let sha256 = "aa43525fc1e6a371f437f770ed9cd91ef983674b3327fe2865ce930e3aed3137"
    /// Below this mean number of keys evicted per intervened (layer, head) and chunk pass, an
    /// intervention claim has no manipulation to test.
    public static let minimumEvictedPerHead = 1.0

    public static var line: String { "claims protocol v\(version) (\(date)), docs/claims-protocol.md sha256 \(sha256)" }
}
