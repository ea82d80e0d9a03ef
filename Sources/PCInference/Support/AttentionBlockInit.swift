/// A public way to build an `AttentionBlock`, so observers defined outside this module (the
/// claims' own) can be tested on synthetic blocks. Kept apart from the observer files.
extension AttentionBlock {
    public static func synthetic(layer: Int, head: Int, worker: Int, scope: ObservationScope, isQuery: Bool, firstRow: Int, rowCount: Int,
                                 keyStart: Int, probs: UnsafePointer<Float>, ld: Int, entropy: UnsafePointer<Float>?,
                                 maxProb: UnsafePointer<Float>) -> AttentionBlock {
        AttentionBlock(layer: layer, head: head, worker: worker, scope: scope, isQuery: isQuery, firstRow: firstRow, rowCount: rowCount,
                       keyStart: keyStart, probs: probs, ld: ld, entropy: entropy, maxProb: maxProb)
    }
}
