/// One pass's working memory, in the spirit of llama2.c's RunState: the activations, grown to
/// the largest pass seen and then reused, and the dequantisation scratch. The model keeps a
/// small pool of them, so once warm a pass allocates no activation buffers.
final class PassScratch {
    let dequant: DequantScratch
    /// x [T, D] residual stream; q [T, H*d] queries of every row (hooks read all of them).
    private(set) var x = Buffer(), q = Buffer()
    /// Per row block of B rows: h [B, max(D, H*d)] normalised input or projection output,
    /// k, v [B, KV*d] new keys and values, att [B, H*d] attention output, gate, up [B, F].
    private(set) var h = Buffer(), k = Buffer(), v = Buffer(), att = Buffer(), gate = Buffer(), up = Buffer()

    init(dequant: DequantScratch) { self.dequant = dequant }

    /// Room for a pass of T rows in blocks of B.
    func prepare(rows T: Int, block B: Int, config c: ModelConfig) {
        let D = c.embeddingLength, F = c.feedForwardLength
        x.ensure(T * D); q.ensure(T * c.qDim)
        h.ensure(B * max(D, c.qDim)); k.ensure(B * c.kvDim); v.ensure(B * c.kvDim); att.ensure(B * c.qDim)
        gate.ensure(B * F); up.ensure(B * F)
    }

    /// A float buffer that only grows; its contents are not kept across `ensure`.
    struct Buffer {
        private(set) var p = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        private var capacity = 1
        mutating func ensure(_ n: Int) {
            guard n > capacity else { return }
            p.deallocate(); p = .allocate(capacity: n); capacity = n
        }
        func free() { p.deallocate() }
    }

    deinit { [x, q, h, k, v, att, gate, up].forEach { $0.free() } }
}

/// One forward pass through the decoder, as named steps (the shapes in each step's comment):
/// `embed`, then per layer `attentionInputs` for every row block, the hooks, and `attention` and
/// `feedForward` for every row block; `finalNorm` at the end. Layer-major: every row block goes
/// through layer l before any goes on to l + 1, so a hook (calibration) decides its evictions
/// from the pass's last rows before any row of that layer attends, and each block does exactly
/// the arithmetic it would do on its own.
struct ForwardPass {
    /// Where a run of the pass's rows keeps its keys: its cache, the block its new keys go to
    /// (from `blockStart`), the key index of its first row, and which keys each row sees.
    struct Target {
        let cache: KVCache
        let block: KVBlock
        /// The pass's rows this target holds.
        let rows: Range<Int>
        let blockStart: Int, firstKey: Int
        /// Rows numbered from `rows.lowerBound`.
        let layout: AttentionLayout
    }

    let model: LlamaModel
    let s: PassScratch
    let lin: LinearRunner
    /// One target for a pass over one cache; one per row when a decode step serves several
    /// sequences at once (`LlamaModel.decodeRows`).
    let targets: [Target]
    /// The first target's first key (passes over one cache: the pass's first key).
    var firstKey: Int { targets[0].firstKey }
    /// Row blocks of at most `tokenBlock` rows; query rows start a block of their own (observers
    /// class a block as context or query rows).
    let blocks: [Range<Int>]
    let ropeTables: [(cos: [Float], sin: [Float])], localRopeTables: [(cos: [Float], sin: [Float])]?
    let observers: [AttentionObserver]
    /// Readers of the pre-RoPE queries (ExpectedAttention's moments); usually none.
    let queryObservers: [QueryObserver]
    let scope: ObservationScope?
    let stageName: String

    var c: ModelConfig { model.config }

    static func rowBlocks(rows T: Int, block B: Int, queryStart: Int) -> [Range<Int>] {
        var blocks: [Range<Int>] = [], r0 = 0
        while r0 < T {
            var r1 = min(r0 + B, T)
            if queryStart > r0 && queryStart < r1 { r1 = queryStart }
            blocks.append(r0..<r1)
            r0 = r1
        }
        return blocks
    }

    /// x [T, D] = token embeddings (Gemma 3: scaled by sqrt(D)).
    func embed(_ tokens: [Int]) {
        let D = c.embeddingLength
        for (i, t) in tokens.enumerated() { model.weights.token_embd.rows(t, 1, into: s.x.p + i * D) }
        if let g = c.gemma3 { Gemma3Layers.scale(s.x.p, tokens.count * D, by: g.embeddingScale) }
    }

    /// Block bi of layer l: h = rmsnorm(x); q, k, v = h W^T (+ b); Gemma 3's q/k norms; RoPE
    /// (the local table on sliding-window layers); k and v [n, KV*d] written to the cache.
    func attentionInputs(layer l: Int, block bi: Int) {
        let b = blocks[bi], n = b.count, D = c.embeddingLength, w = model.weights.blocks[l]
        let xb = s.x.p + b.lowerBound * D, qb = s.q.p + b.lowerBound * c.qDim, h = s.h.p, k = s.k.p, v = s.v.p
        for i in 0..<n { VectorMath.rmsNorm(xb + i * D, w.attn_norm, h + i * D, n: D, eps: c.rmsEps) }
        lin.run(h, rows: n, [(w.attn_q, qb), (w.attn_k, k), (w.attn_v, v)])
        for o in queryObservers { o.observeQueries(layer: l, firstKey: firstKey + b.lowerBound, rows: n, q: qb) }
        if let qbias = w.attn_q_bias, let kbias = w.attn_k_bias, let vbias = w.attn_v_bias {
            for i in 0..<n {
                VectorMath.add(qb + i * c.qDim, qbias, c.qDim)
                VectorMath.add(k + i * c.kvDim, kbias, c.kvDim)
                VectorMath.add(v + i * c.kvDim, vbias, c.kvDim)
            }
        }
        if let qn = w.attn_q_norm, let kn = w.attn_k_norm {
            Gemma3Layers.headNorm(qb, rows: n, heads: c.headCount, d: c.headDim, weight: qn, eps: c.rmsEps)
            Gemma3Layers.headNorm(k, rows: n, heads: c.kvHeadCount, d: c.headDim, weight: kn, eps: c.rmsEps)
        }
        let (cosT, sinT) = c.attentionWindow(layer: l) != nil ? localRopeTables?[bi] ?? ropeTables[bi] : ropeTables[bi]
        model.rope.apply(qb, rows: n, heads: c.headCount, cos: cosT, sin: sinT)
        model.rope.apply(k, rows: n, heads: c.kvHeadCount, cos: cosT, sin: sinT)
        for t in targets {
            let lo = max(b.lowerBound, t.rows.lowerBound), hi = min(b.upperBound, t.rows.upperBound)
            guard lo < hi else { continue }
            let off = (lo - b.lowerBound) * c.kvDim
            t.block.write(layer: l, at: t.blockStart + lo - t.rows.lowerBound, k: k + off, v: v + off, rows: hi - lo)
        }
    }

    /// Block b of layer l: att [n, H*d] over the cache (observers watch here); x += att Wo^T
    /// (Gemma 3: x += rmsnorm(att Wo^T) * post_attention_norm).
    func attention(layer l: Int, block b: Range<Int>) {
        let n = b.count, D = c.embeddingLength, w = model.weights.blocks[l], xb = s.x.p + b.lowerBound * D
        // A decode step of several sequences: rows over the same leading slices share their reads.
        let sharedRows = targets.count > 1 && observers.isEmpty && targets.allSatisfy { $0.rows.count == 1 && b.contains($0.rows.lowerBound) }
            && model.kernel.runSharedRows(layer: l, rows: targets.map { t in
                AttentionKernel.SharedRow(q: s.q.p + t.rows.lowerBound * c.qDim, out: s.att.p + (t.rows.lowerBound - b.lowerBound) * c.qDim,
                                          cache: t.cache, firstRowKey: t.firstKey)
            })
        for t in targets where !sharedRows {
            let lo = max(b.lowerBound, t.rows.lowerBound), hi = min(b.upperBound, t.rows.upperBound)
            guard lo < hi else { continue }
            let own = (lo - t.rows.lowerBound)..<(hi - t.rows.lowerBound)
            model.kernel.run(layer: l, q: s.q.p + lo * c.qDim, rows: hi - lo, cache: t.cache, layout: Self.subLayout(t.layout, own),
                             firstRowKey: t.firstKey + own.lowerBound, out: s.att.p + (lo - b.lowerBound) * c.qDim,
                             observers: observers, scope: scope)
        }
        if let pn = w.post_attention_norm {
            lin.run(s.att.p, rows: n, [(w.attn_output, s.h.p)])
            Gemma3Layers.postNormAdd(s.h.p, rows: n, n: D, weight: pn, eps: c.rmsEps, into: xb)
        } else {
            lin.run(s.att.p, rows: n, [(w.attn_output, xb)], accumulate: true)
        }
    }

    /// Block b of layer l: h = rmsnorm(x); x += (silu(h Wg^T) * (h Wu^T)) Wd^T (Gemma 3: GeGLU,
    /// then a post-norm before the add). A NaN or infinity in the block stops the pass, named.
    func feedForward(layer l: Int, block b: Range<Int>) throws {
        let n = b.count, D = c.embeddingLength, F = c.feedForwardLength, w = model.weights.blocks[l]
        let xb = s.x.p + b.lowerBound * D, h = s.h.p
        for i in 0..<n { VectorMath.rmsNorm(xb + i * D, w.ffn_norm, h + i * D, n: D, eps: c.rmsEps) }
        lin.run(h, rows: n, [(w.ffn_gate, s.gate.p), (w.ffn_up, s.up.p)])
        if let pn = w.post_ffw_norm {
            Gemma3Layers.geglu(s.gate.p, s.up.p, n * F, workers: model.threads)
            lin.run(s.gate.p, rows: n, [(w.ffn_down, h)])
            Gemma3Layers.postNormAdd(h, rows: n, n: D, weight: pn, eps: c.rmsEps, into: xb)
        } else {
            VectorMath.swiglu(s.gate.p, s.up.p, n * F)
            lin.run(s.gate.p, rows: n, [(w.ffn_down, xb)], accumulate: true)
        }
        if !VectorMath.sum(xb, n * D).isFinite {
            throw ModelError("non-finite activation in layer \(l) during \(stageName) (rows \(b.lowerBound)..<\(b.upperBound)); stopping before writing NaN statistics")
        }
    }

    /// out [rows.count, D] = rmsnorm(x[r]) for the rows asked for.
    func finalNorm(rows: [Int]) -> [Float] {
        let D = c.embeddingLength
        var out = [Float](repeating: 0, count: rows.count * D)
        out.withUnsafeMutableBufferPointer { o in
            for (slot, r) in rows.enumerated() {
                VectorMath.rmsNorm(s.x.p + r * D, model.weights.output_norm, o.baseAddress! + slot * D, n: D, eps: c.rmsEps)
            }
        }
        return out
    }

    /// A layout re-based to one row block.
    static func subLayout(_ layout: AttentionLayout, _ b: Range<Int>) -> AttentionLayout {
        AttentionLayout(segments: layout.segments.compactMap { seg in
            let lo = max(seg.rows.lowerBound, b.lowerBound), hi = min(seg.rows.upperBound, b.upperBound)
            return lo < hi ? .init(rows: (lo - b.lowerBound)..<(hi - b.lowerBound), keyStart: seg.keyStart) : nil
        })
    }
}
