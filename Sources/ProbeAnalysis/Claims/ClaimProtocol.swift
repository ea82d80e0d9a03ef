import Foundation

/// The pre-registered protocol the claims run under: docs/claims-protocol.md fixes every
/// statistic, threshold, minimum effect, test and n. Its sha256 is pinned here and written into
/// every output, and a test fails when the document and this hash disagree: the protocol cannot
/// change without a new version (and date) here and in the document.
public enum ClaimProtocol {
    public static let version = "5"
    public static let date = "2026-12-07"
    /// sha256 of docs/claims-protocol.md as committed for this version.
    public static let sha256 = "2f98698d94ac9cc38a6f72690ceaf8431f493cc7fdbc641c6c274becb8d8afa3"
    /// Below this mean number of keys evicted per intervened (layer, head) and chunk pass, an
    /// intervention claim has no manipulation to test.
    public static let minimumEvictedPerHead = 1.0

    /// Versions whose statistics are the same (v4 only added a run size to v3): their standard
    /// runs measure the same thing and pair. v5 (reach rule, replayed control counts) stands alone.
    static let sameStatistics: [Set<String>] = [["3", "4"]]

    /// The statistics family of a version: itself unless it shares v3's.
    public static func statisticsFamily(_ version: String) -> String {
        sameStatistics.first { $0.contains(version) }.map { $0.sorted().map { "v" + $0 }.joined(separator: "/") } ?? "v" + version
    }

    public static var line: String { "claims protocol v\(version) (\(date)), docs/claims-protocol.md sha256 \(sha256)" }
}
