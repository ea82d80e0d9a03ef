import Foundation

/// Errors raised while running the model; each message is one line.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ m: String) { description = m }
}

/// Called inside a forward pass after the queries and keys of a layer are ready and before its
/// attention runs: the place where calibration evicts keys it finds abnormal.
public protocol AttentionHook: AnyObject {
    func beforeAttention(layer: Int, q: UnsafePointer<Float>, rows: Int, cache: KVCache, layout: AttentionLayout, firstRowKey: Int) throws
}

/// A LLaMA-family decoder (llama, qwen2; gemma3 through the marked branches) running on float32 weights and OpenBLAS.
public final class LlamaModel: @unchecked Sendable {
    public let config: ModelConfig
    public let weights: LlamaWeights
    public let kernel: AttentionKernel
    let rope: RoPE
    /// Gemma 3: the local layers' RoPE (base 10,000); `rope` serves the global ones.
    let localRope: RoPE?
    /// Rows processed through all layers at once; bounds activation memory at long context.
    public var tokenBlock = 512
    /// Threads for the linear layers (OpenBLAS) and the attention kernel.
    public let threads: Int
    /// Arithmetic of one-row passes (decode); with `.float`, passes of up to `fewRowsLimit` rows
    /// use the same kernels (see `LinearRunner`), longer ones dequantise and run sgemm.
    public var decodePath = DecodePath.standard
    /// Longest pass whose linear layers read the quantized blocks directly on the `.float` path;
    /// 0 sends every pass of several rows to sgemm. Nil picks the measured crossover against
    /// per-pass dequantisation (`bench rows` on a 2-core AMD EPYC, docs/quantized-weights.md):
    /// 32 rows, whether or not the weights are kept expanded, so that expanding them (a memory
    /// choice) never changes a number.
    public var fewRowsLimit: Int? = nil
    var activeFewRowsLimit: Int { fewRowsLimit ?? 32 }
    let scratchPool: ScratchPool
    /// Asked before every layer of every row block of a pass; true stops the pass with
    /// CancellationError. A pass over an 8K-token chunk takes many seconds, so this is what lets
    /// Ctrl-C act within about a second. Nil (the default) costs nothing.
    public var shouldStop: (() -> Bool)?
    /// Float32 copies of the quantized matrices, when `expandWeights()` made them.
    public internal(set) var expanded: ExpandedWeights?

    public init(gguf: GGUFFile, threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
        config = try ModelConfig(gguf: gguf)
        weights = try LlamaWeights(gguf: gguf, config: config)
        self.threads = max(1, threads)
        kernel = AttentionKernel(config: config, workers: self.threads)
        rope = RoPE(config: config, freqFactors: weights.rope_freqs)
        if let g = config.gemma3 {
            var lc = config; lc.ropeTheta = g.localRopeTheta
            localRope = RoPE(config: lc, freqFactors: weights.rope_freqs)
        } else { localRope = nil }
        let w = weights
        scratchPool = ScratchPool { PassScratch(dequant: DequantScratch(weights: w)) }
        BLAS.threads = 1   // see BLAS.parallelLinear
    }

    public convenience init(path: String) throws {
        try self.init(gguf: GGUFFile(path: path))
    }

    public func makeCache() -> KVCache { KVCache(config: config) }

    /// Memory the weights take while the model runs: the mapped file pages it reads (resident once
    /// touched, but clean and reclaimable), the float32 vectors, and one pass's dequantisation scratch.
    public var weightMemoryBytes: Int {
        weights.mappedBytes + weights.residentWeightBytes + DequantScratch.capacity(for: weights) * 4
    }

    /// Runs new tokens through the model, appending their keys and values to `cache`.
    ///
    /// - positions: one RoPE position per token (explicit, so chunks can restart at 0).
    /// - layout: which keys each new row sees (see `AttentionLayout`).
    /// - logitRows: indices of new rows whose next-token logits are wanted.
    /// - Returns: logits [logitRows.count, vocab], row-major.
    @discardableResult
    public func forward(tokens: [Int], positions: [Int], cache: KVCache, layout: AttentionLayout? = nil,
                        logitRows: [Int] = [], observers: [AttentionObserver] = [], scope: ObservationScope? = nil,
                        hooks: [AttentionHook] = [], stageName: String = "forward") throws -> [Float] {
        let hidden = try forwardHidden(tokens: tokens, positions: positions, cache: cache, layout: layout, hiddenRows: logitRows,
                                       observers: observers, scope: scope, hooks: hooks, stageName: stageName)
        // The output projection follows the pass's linear layers: direct kernels for a decode
        // row or a short pass, else dequantise + sgemm.
        let rowPath = LinearRunner.direct(rows: tokens.count, path: decodePath, fewRowsLimit: activeFewRowsLimit)
        return hidden.withUnsafeBufferPointer { logits(hidden: $0.baseAddress!, rows: logitRows.count, rowPath: rowPath) }
    }

    /// Like `forward`, but returns the final normalised hidden states [hiddenRows.count, D]
    /// instead of logits, so callers can project them in batches (see `logits(hidden:rows:)`).
    public func forwardHidden(tokens: [Int], positions: [Int], cache: KVCache, layout: AttentionLayout? = nil,
                              hiddenRows logitRows: [Int] = [], observers: [AttentionObserver] = [], scope: ObservationScope? = nil,
                              hooks: [AttentionHook] = [], queryObservers: [QueryObserver] = [], stageName: String = "forward") throws -> [Float] {
        let c = config, T = tokens.count
        guard T > 0 else { return [] }
        guard positions.count == T else { throw ModelError("\(T) tokens but \(positions.count) positions") }
        try checkTokens(tokens)
        for r in logitRows where r < 0 || r >= T { throw ModelError("logit row \(r) is outside 0..<\(T)") }
        let layout = layout ?? .causal(rows: T)
        guard layout.rowCount == T else { throw ModelError("layout covers \(layout.rowCount) rows, pass has \(T)") }

        let target = appendTarget(cache, positions: positions[...], rows: 0..<T, layout: layout)
        let firstKey = target.firstKey
        let active = scope.map { s in observers.filter { $0.begin(scope: s, workers: kernel.workers) } } ?? []
        defer { active.forEach { $0.end() } }

        let B = min(tokenBlock, T)
        let scratch = scratchPool.take(); defer { scratchPool.give(scratch) }
        scratch.prepare(rows: T, block: B, config: c)
        let blocks = ForwardPass.rowBlocks(rows: T, block: B, queryStart: scope.map { $0.queryRowStart - firstKey } ?? 0)
        let pass = makePass(scratch, targets: [target], positions: positions, blocks: blocks, observers: active,
                            queryObservers: queryObservers, scope: scope, stageName: stageName)
        try run(pass, tokens: tokens) { l in
            // Hooks act in order, each seeing what the earlier ones evicted (calibration, then the
            // decode-time eviction's window over the reduced keys, as in the official code).
            for hook in hooks { try hook.beforeAttention(layer: l, q: scratch.q.p, rows: T, cache: cache, layout: layout, firstRowKey: firstKey) }
        }
        return pass.finalNorm(rows: logitRows)
    }

    /// One decode step for several independent sequences: row i runs `tokens[i]` at
    /// `positions[i]`, appends its key to `caches[i]` and attends to that cache alone. The linear
    /// layers and the output projection read each weight block once for all rows (the few-rows
    /// kernels, which equal the one-row kernels bit for bit), so every row's logits equal those
    /// of its own one-token `forward` while the weights stream once (`DecodeRowsTests`). When the
    /// decode path has no few-rows kernel (int8, sgemm) the rows run one by one.
    /// - Returns: logits [tokens.count, vocab], row-major.
    public func decodeRows(tokens: [Int], positions: [Int], caches: [KVCache], stageName: String = "decode") throws -> [Float] {
        let T = tokens.count, limit = max(1, activeFewRowsLimit)
        guard positions.count == T, caches.count == T else { throw ModelError("\(T) tokens, \(positions.count) positions and \(caches.count) caches") }
        guard Set(caches.map(ObjectIdentifier.init)).count == T else { throw ModelError("decodeRows needs a distinct cache per row") }
        if T > limit {
            var out: [Float] = []
            for lo in stride(from: 0, to: T, by: limit) {
                let r = lo..<min(T, lo + limit)
                out += try decodeRows(tokens: Array(tokens[r]), positions: Array(positions[r]), caches: Array(caches[r]), stageName: stageName)
            }
            return out
        }
        let rowPath = LinearRunner.direct(rows: T, path: decodePath, fewRowsLimit: limit)
        guard T > 1, rowPath != nil, rowPath == LinearRunner.direct(rows: 1, path: decodePath, fewRowsLimit: limit) else {
            return try (0..<T).flatMap { i in try forward(tokens: [tokens[i]], positions: [positions[i]], cache: caches[i], logitRows: [0], stageName: stageName) }
        }
        try checkTokens(tokens)
        let targets = caches.indices.map { i in appendTarget(caches[i], positions: positions[i...i], rows: i..<(i + 1), layout: .causal(rows: 1)) }
        let scratch = scratchPool.take(); defer { scratchPool.give(scratch) }
        scratch.prepare(rows: T, block: T, config: config)
        let pass = makePass(scratch, targets: targets, positions: positions, blocks: [0..<T], observers: [], queryObservers: [],
                            scope: nil, stageName: stageName)
        try run(pass, tokens: tokens) { _ in }
        let hidden = pass.finalNorm(rows: Array(0..<T))
        return hidden.withUnsafeBufferPointer { logits(hidden: $0.baseAddress!, rows: T, rowPath: rowPath) }
    }

    /// Makes room for the keys of pass rows `rows` at the end of `cache` and records their RoPE
    /// positions; the keys count as present from here on (the kernel reads keys only up to each
    /// row's own, layer by layer).
    private func appendTarget(_ cache: KVCache, positions: ArraySlice<Int>, rows: Range<Int>, layout: AttentionLayout) -> ForwardPass.Target {
        precondition(positions.count == rows.count)
        let firstKey = cache.count, block = cache.reserve(rows.count), blockStart = block.count
        cache.commitAppend(rows.count)
        for (i, p) in positions.enumerated() { block.positions[blockStart + i] = Int32(truncatingIfNeeded: p) }
        return ForwardPass.Target(cache: cache, block: block, rows: rows, blockStart: blockStart, firstKey: firstKey, layout: layout)
    }

    private func checkTokens(_ tokens: [Int]) throws {
        for t in tokens where t < 0 || t >= config.vocabSize { throw ModelError("token id \(t) is outside the vocabulary (0..<\(config.vocabSize))") }
    }

    private func makePass(_ scratch: PassScratch, targets: [ForwardPass.Target], positions: [Int], blocks: [Range<Int>],
                          observers: [AttentionObserver], queryObservers: [QueryObserver], scope: ObservationScope?,
                          stageName: String) -> ForwardPass {
        // Observers watch one cache's keys (its scope, its first key): a pass over several caches has none.
        precondition(targets.count == 1 || (observers.isEmpty && queryObservers.isEmpty && scope == nil))
        return ForwardPass(
            model: self, s: scratch,
            lin: LinearRunner(workers: threads, direct: LinearRunner.direct(rows: positions.count, path: decodePath, fewRowsLimit: activeFewRowsLimit),
                              scratch: scratch.dequant, expanded: expanded),
            targets: targets, blocks: blocks,
            ropeTables: blocks.map { rope.tables(positions: positions[$0]) },
            localRopeTables: localRope.map { lr in blocks.map { lr.tables(positions: positions[$0]) } },
            observers: observers, queryObservers: queryObservers, scope: scope, stageName: stageName)
    }

    /// The pass's layers: every row block's attention inputs, then `beforeAttention(layer)` (the
    /// hooks), then every block's attention and feed-forward; cancellable between layers and blocks.
    private func run(_ pass: ForwardPass, tokens: [Int], beforeAttention: (Int) throws -> Void) throws {
        pass.embed(tokens)
        let stop = shouldStop
        for l in 0..<config.layerCount {
            if let stop, stop() { throw CancellationError() }
            for bi in pass.blocks.indices { pass.attentionInputs(layer: l, block: bi) }
            try beforeAttention(l)
            for b in pass.blocks {
                if let stop, stop() { throw CancellationError() }
                pass.attention(layer: l, block: b)
                try pass.feedForward(layer: l, block: b)
            }
        }
    }

    /// Output projection of normalised hidden rows [rows, D] -> logits [rows, V]. `rowPath` other
    /// than sgemm (one decode row, or a short pass on `.float`: see `LinearRunner.direct`) uses
    /// the `QuantMatVec` kernels; otherwise the matrix (the separate output
    /// or the tied embedding) is dequantised in slabs of rows, so it never needs a float32 copy,
    /// and the vocabulary is split across the model's threads.
    public func logits(hidden: UnsafePointer<Float>, rows: Int, rowPath: DecodePath? = nil) -> [Float] {
        let c = config, D = c.embeddingLength, V = c.vocabSize
        guard rows > 0 else { return [] }
        let w = weights.output ?? weights.token_embd.matrix
        var out = [Float](repeating: 0, count: rows * V)
        out.withUnsafeMutableBufferPointer { ob in
            if let p = rowPath, p != .sgemm, rows == 1 || p == .float {
                QuantMatVec.apply(hidden, rows: rows, [(w, ob.baseAddress!)], accumulate: false, int8: p == .int8, workers: threads)
                return
            }
            let hp = SharedPointer(hidden), op = SharedPointer(ob.baseAddress!)
            let slab = 4096, workers = threads
            let kept = (w.floats ?? expanded?.floats(w)).map { SharedPointer(UnsafeMutablePointer(mutating: $0)) }
            WorkerPool.run(workers) { i in
                let v0 = V * i / workers, v1 = V * (i + 1) / workers
                guard v1 > v0 else { return }
                // The same slab calls either way, so the logits do not depend on where the floats come from.
                let buf = kept == nil ? UnsafeMutablePointer<Float>.allocate(capacity: min(slab, v1 - v0) * D) : nil
                defer { buf?.deallocate() }
                var s = v0
                while s < v1 {
                    let n = min(slab, v1 - s)
                    let b: UnsafePointer<Float>
                    if let kept { b = UnsafePointer(kept.p + s * D) } else { w.dequantize(rows: s, s + n, into: buf!); b = UnsafePointer(buf!) }
                    BLAS.gemm(m: rows, n: n, k: D, a: hp.p, lda: D, b: b, ldb: D, bTransposed: true, c: op.p + s, ldc: V)
                    s += n
                }
            }
        }
        return out
    }
}
