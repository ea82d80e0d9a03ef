/// A reader of a pass's queries as projected, before any bias, QK norm or RoPE (the one place
/// they exist: the pass keeps only the rotated ones). Called once per layer and row block, in
/// order, from the pass's own thread; passes without one do nothing extra.
public protocol QueryObserver: AnyObject {
    /// `rows` query rows of `layer`, [rows, heads * d]; row r belongs to key `firstKey + r`.
    func observeQueries(layer: Int, firstKey: Int, rows: Int, q: UnsafePointer<Float>)
}

extension QueryMoments: QueryObserver {
    public func observeQueries(layer: Int, firstKey: Int, rows: Int, q: UnsafePointer<Float>) {
        add(layer: layer, firstKey: firstKey, rows: rows, q: q)
    }
}
