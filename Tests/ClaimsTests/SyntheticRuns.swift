import ProbeAnalysis
import Foundation
import XCTest

/// A small synthetic example: `heads` heads in `layers` layers, two chunks of a 4-token template
/// and `width` content tokens, later chunks' BOS dropped from the global cache as in the
/// official pipeline. Tests plant attention profiles into its tables.
struct SyntheticRuns {
    static let prefix = 4, width = 64, band = 2, question = 5

    var runs = EssayRuns()
    /// Template keys before each chunk's content (0: the official layout, no template).
    let prefix: Int

    init(layers: Int = 4, heads: Int = 3, chunks: Int = 2, prefix: Int = SyntheticRuns.prefix) {
        self.prefix = prefix
        runs.layers = layers; runs.heads = heads; runs.chunks = chunks; runs.width = Self.width; runs.band = Self.band
        var spans: [Range<Int>] = [], start = 0
        for c in 0..<chunks {
            let n = (c == 0 || prefix == 0 ? prefix : prefix - 1) + Self.width
            spans.append(start..<(start + n)); start += n
        }
        runs.bands = ChunkBands.of(spans, width: Self.width, sink: Self.band, recent: Self.band)
        runs.keptBands = runs.bands
        runs.localBands = ChunkBands.of([0..<(prefix + Self.width)], width: Self.width, sink: Self.band, recent: Self.band)
    }

    var globalKeys: Int { runs.bands.last!.span.upperBound + Self.question }
    var localKeys: Int { prefix + Self.width + Self.question }

    /// A table whose head lh holds `profile(lh)` (keys x), normalised to sum 1.
    func table(keys: Int, _ profile: (Int) -> [Double]) -> KeyTable {
        var v: [Float] = []
        for lh in 0..<runs.lhCount {
            let p = profile(lh)
            precondition(p.count == keys)
            let s = p.reduce(0, +)
            v += p.map { Float($0 / s) }
        }
        return KeyTable(keys: keys, values: v)
    }

    func wrap() -> ExampleRuns { ExampleRuns(essay: runs, passkey: PasskeyRuns(), continuation: ContinuationRuns()) }
}

extension XCTestCase {
    /// The claim's verdict over `n` identical examples (interval of zero width at the value).
    func verdict(_ claim: any Claim, _ x: ExampleRuns, n: Int = 6) -> (Verdict, Double) {
        let m = claim.measure(x)!
        let rows = (0..<n).map { i in
            // Each its own haystack: independent examples, also for the claims that cluster by configuration.
            ExampleRow(example: ClaimExample(index: i, offset: 0, chunks: 2, question: "", passkeyDepth: 0, passkeySeed: 0, passkeyHaystack: i),
                       claims: [claim.id: m], arrays: [:], seconds: 0)
        }
        let o = ClaimAggregate.outcomes([claim], rows: rows, seed: 1)[0]
        return (o.verdict, o.estimate)
    }
}
