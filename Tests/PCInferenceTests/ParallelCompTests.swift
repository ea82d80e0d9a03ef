import XCTest
import PCInference

/// The ParallelComp pipeline against the algorithm spec (section 8.3 parity points) and against
/// plain causal attention where the two must agree. Such agreements hold for any weights, so
/// those tests run on the tiny test model (`Fixtures.tinyModel`, SmolLM2's tokenizer); the golden
/// layout's logits stay on SmolLM2.
final class ParallelCompTests: XCTestCase {
    func tokenizer() throws -> Tokenizer { try Tokenizer(gguf: GGUFFile(path: Fixtures.modelPath())) }

    /// The golden passage's first 1,800 characters (about 400 tokens, cut after a sentence):
    /// with chunks of 96 tokens these tests keep the four to five chunks the whole passage gave
    /// in chunks of 256-300, at under half the prefill work. Nothing here depends on the text.
    func passage() throws -> String {
        let text = try String(contentsOf: Fixtures.goldenDir.appendingPathComponent("passage.txt"), encoding: .utf8)
        let head = text.prefix(1800)
        return String(head[...(head.lastIndex(of: ".") ?? head.index(before: head.endIndex))])
    }

    /// With one kept chunk whose first token stays, the question over the combined cache is exactly
    /// a causal continuation of that chunk, so the answer equals plain greedy decoding of
    /// (chunk ++ question), and the chunk's NLL equals the causal model's NLL of the question.
    func testOneKeptChunkEqualsPlainCausalDecoding() throws {
        let (model, tok) = try Fixtures.tinyModel()
        // The whole passage. The two paths sum in different orders (the chunk pass puts the
        // question rows in blocks of their own), so the NLLs agree to float32's resolution: within
        // 4 ulps of the value (22 nats: 7.6e-6). A wrong position or mask moves them by far more.
        // (With 1e-6, below one ulp, the check failed at 2.3e-6 once P·V stopped going through sgemm.)
        let text = try String(contentsOf: Fixtures.goldenDir.appendingPathComponent("passage.txt"), encoding: .utf8)
        var config = ParallelCompConfig()
        config.chunkTokens = 300; config.keepChunks = 1; config.maxNewTokens = 8
        // The chat layout: under the official one SmolLM2's first choice was EOS, which the
        // pipeline bans at the first step and plain greedy decoding does not.
        let format = PromptFormat.forTokenizer(tok, layout: .chat, instruction: "Read the text.")
        let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: format)
        let prep = try pc.prepare(context: text, question: "Who designed the new lighthouse lens?")
        XCTAssertGreaterThan(prep.chunks.count, 2)
        let r = try pc.run(prep)
        XCTAssertEqual(r.keptChunkIDs.count, 1)
        XCTAssertEqual(Set(r.chunks.map { $0.nll! }).count, prep.chunks.count, "chunk scores should differ")
        let kept = prep.chunks[r.keptChunkIDs[0]]
        // The question as prefilled: BOS q (official), the BOS being the prefix's leading token.
        let q = r.questionIDs
        XCTAssertEqual(q, [kept.tokens[0]] + prep.questionIDs)
        let plain = try Generator(model: model).greedy(prompt: kept.tokens + q, maxTokens: 8, stopTokens: Set([tok.eosID!]))
        XCTAssertEqual(r.answerIDs, plain)
        XCTAssertGreaterThan(plain.count, 1, "more than one answer token compared")
        XCTAssertEqual(r.queryPosition, kept.contextLength)
        // NLL of the question under plain causal attention (official formula: EOS labels ignored).
        let all = kept.tokens + q
        let rows = Array((kept.contextLength - 1)..<(all.count - 1))
        let logits = try model.forward(tokens: all, positions: Array(0..<all.count), cache: model.makeCache(), logitRows: rows)
        let nll = ParallelCompPipeline.questionNLL(logits: logits, vocab: model.config.vocabSize, question: q, scoreTokens: 0,
                                                   formula: .official, eos: tok.eosID)
        XCTAssertEqual(r.chunks[kept.id].nll!, nll, accuracy: 4 * Double(Float(nll).ulp))
        // And the kept chunk is the one with the lowest NLL.
        XCTAssertEqual(r.chunks.map { $0.nll! }.min(), r.chunks[kept.id].nll)

        // Teacher-forced answer NLL equals the causal model's, and scoring leaves decoding unchanged.
        let answer = tok.encode(" Augustin Fresnel designed it", parseSpecial: false, addBOS: false)
        let scored = try pc.run(prep, scoreAnswer: answer)
        XCTAssertEqual(scored.answerIDs, plain)
        let full = all + answer
        let aRows = Array((all.count - 1)..<(full.count - 1))
        let aLogits = try model.forward(tokens: full, positions: Array(0..<full.count), cache: model.makeCache(), logitRows: aRows)
        let aNLL = ParallelCompPipeline.questionNLL(logits: aLogits, vocab: model.config.vocabSize, question: answer, scoreTokens: 0, formula: .mean)
        XCTAssertEqual(scored.answerNLL!, aNLL, accuracy: 1e-4)
    }

    /// Combined length S = sum c_j - (k - 1) (one leading token kept), positions start at the longest kept chunk.
    func testCombinedLengthAndPositions() throws {
        let (model, tok) = try Fixtures.tinyModel()
        let text = try passage()
        for keepAll in [false, true] {
            var config = ParallelCompConfig()
            config.chunkTokens = 96; config.keepChunks = 3; config.maxNewTokens = 1; config.keepEveryChunkFirstToken = keepAll
            let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: PromptFormat.forTokenizer(tok))
            let prep = try pc.prepare(context: text, question: "What is this about?")
            let r = try pc.run(prep, generate: false)
            XCTAssertGreaterThan(prep.chunks.count, 3, "a choice among the chunks")
            XCTAssertEqual(Set(r.chunks.map { $0.nll! }).count, prep.chunks.count, "chunk scores should differ")
            let lens = r.keptChunkIDs.map { prep.chunks[$0].contextLength }
            XCTAssertEqual(r.keptChunkIDs, r.keptChunkIDs.sorted(), "kept chunks in document order")
            XCTAssertEqual(r.combinedKeys, lens.reduce(0, +) - (keepAll ? 0 : lens.count - 1))
            XCTAssertEqual(r.queryPosition, lens.max())
            XCTAssertEqual(r.combinedSpans.count, 3)
            // The kept chunks are the three lowest NLLs.
            let best = r.chunks.sorted { $0.nll! < $1.nll! }.prefix(3).map(\.id).sorted()
            XCTAssertEqual(best, r.keptChunkIDs)
        }
    }

    /// Token split: ceil(T / size) chunks of near-equal size covering every token once.
    /// Character split: the official code's remainder merge.
    func testSentenceChunks() throws {
        // Sentence ends every 7 tokens: every chunk but the last ends on one, none exceeds the limit,
        // and together they cover every token once.
        let T = 200, limit = 30
        let r = Chunker.bySentences(count: T, maxTokens: limit) { $0 % 7 == 6 }
        XCTAssertEqual(r.first?.lowerBound, 0); XCTAssertEqual(r.last?.upperBound, T)
        for (a, b) in zip(r, r.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
        for c in r { XCTAssertLessThanOrEqual(c.count, limit); XCTAssertGreaterThan(c.count, 0) }
        for c in r.dropLast() { XCTAssertEqual((c.upperBound - 1) % 7, 6, "chunk \(c) does not end a sentence") }
        // No sentence end in the second half: a hard cut at the limit.
        XCTAssertEqual(Chunker.bySentences(count: 100, maxTokens: 40) { $0 == 5 }, [0..<40, 40..<80, 80..<100])
        // Through the pipeline: a passkey needle is never cut.
        let (model, tok) = try Fixtures.tinyModel()
        var config = ParallelCompConfig()
        config.chunkTokens = 160; config.splitBy = .sentences
        let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: PromptFormat.forTokenizer(tok))
        for depth in stride(from: 0.0, through: 1.0, by: 0.1) {
            let ex = RetrievalTaskBuilder(tokenizer: tok).passkey(tokens: 2000, depth: depth, seed: 3)
            let prep = try pc.prepare(context: ex.context, question: ex.question)
            let span = RetrievalRunner.needleTokens(ex, tokenizer: tok)
            let holder = prep.chunks.filter { $0.documentTokens!.contains(span.lowerBound) }
            XCTAssertEqual(holder.count, 1)
            XCTAssertTrue(holder[0].documentTokens!.upperBound >= span.lowerBound + 8, "depth \(depth): the key sentence is cut")
            for c in prep.chunks { XCTAssertLessThanOrEqual(c.contextLength, 160) }
        }
    }

    /// The needle's token range covers exactly its tokens, even where its first token merges with
    /// the filler's trailing space.
    func testNeedleTokenRange() throws {
        let tok = try tokenizer()
        let b = RetrievalTaskBuilder(tokenizer: tok)
        let essays = String(repeating: "Startups are hard. Founders work late and ship often. ", count: 300)
        for ex in [b.passkey(tokens: 1000, depth: 0.5, seed: 1), b.needle(haystack: essays, tokens: 1000, depth: 0.3, seed: 2)] {
            let ids = tok.encode(ex.context, parseSpecial: false, addBOS: false)
            let span = RetrievalRunner.needleTokens(ex, tokenizer: tok)
            let inside = tok.decode(Array(ids[span]))
            let needle = String(Array(ex.context)[ex.needle]).trimmingCharacters(in: .whitespaces)
            XCTAssertTrue(inside.contains(needle.components(separatedBy: ".")[0]), "'\(inside)' misses the needle's start")
            XCTAssertFalse(tok.decode([ids[span.lowerBound - 1]]).contains("pass") || tok.decode([ids[span.lowerBound - 1]]).contains("magic"))
            XCTAssertFalse(tok.decode([ids[span.upperBound]]).contains(ex.answer))
        }
    }

    func testChunkBoundaries() {
        let r = Chunker.byTokens(count: 1000, maxTokens: 300)
        XCTAssertEqual(r.count, 4)
        XCTAssertEqual(r.first?.lowerBound, 0); XCTAssertEqual(r.last?.upperBound, 1000)
        for (a, b) in zip(r, r.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
        XCTAssertLessThanOrEqual(r.map(\.count).max()! - r.map(\.count).min()!, 1)
        // 10 characters, 3 tokens-worth -> n = ceil(7/3) = 3 pieces of floor(10/3) = 3 chars, remainder 1 merged.
        let p = Chunker.byCharacters(text: "abcdefghij", tokenCount: 7, maxTokens: 3)
        XCTAssertEqual(p.map(\.text), ["abc", "def", "ghij"])
        XCTAssertEqual(p.map(\.scalars), [0..<3, 3..<6, 6..<10])
        // Python counts code points: an e + combining accent is two of them, one Swift Character.
        let q = Chunker.byCharacters(text: "ae\u{301}bcd", tokenCount: 2, maxTokens: 1)
        XCTAssertEqual(q.map(\.text), ["ae\u{301}", "bcd"])
    }

    /// The NLL formula: mean over the scored tokens, or the official sum / (n - 1); scoring the
    /// last r tokens only.
    func testNLLFormula() {
        let V = 4
        // Two question tokens, uniform logits except a sure first token.
        let logits: [Float] = [10, 0, 0, 0,   0, 0, 0, 0]
        let q = [0, 2]
        let l0 = Perplexity.logSoftmax(logits[0..<4], 0), l1 = Perplexity.logSoftmax(logits[4..<8], 2)
        XCTAssertEqual(ParallelCompPipeline.questionNLL(logits: logits, vocab: V, question: q, scoreTokens: 0, formula: .mean), (l0 + l1) / 2, accuracy: 1e-12)
        XCTAssertEqual(ParallelCompPipeline.questionNLL(logits: logits, vocab: V, question: q, scoreTokens: 0, formula: .official), (l0 + l1) / 1, accuracy: 1e-12)
        XCTAssertEqual(ParallelCompPipeline.questionNLL(logits: logits, vocab: V, question: q, scoreTokens: 1, formula: .mean), l1, accuracy: 1e-12)
        XCTAssertEqual(l1, log(4.0), accuracy: 1e-6)
    }

    /// Calibration bands and head equalisation as in the official code (spec section 4.2): sink
    /// i < w, recent i > n - w, middle strictly between, so keys w and n - w are in no band and
    /// a short sequence's keys can be sink and recent at once; the tiled variant has neither quirk.
    func testCalibrationBandsAndEqualisation() {
        func has(_ b: CalibrationRule.Band, _ i: Int, _ n: Int, _ e: ParallelCompConfig.BandEdges = .official) -> Bool {
            CalibrationBands.contains(b, index: i, count: n, width: 100, edges: e)
        }
        XCTAssertTrue(has(.sink, 99, 1000)); XCTAssertFalse(has(.sink, 100, 1000))
        XCTAssertFalse(has(.middle, 100, 1000)); XCTAssertTrue(has(.middle, 101, 1000))
        XCTAssertTrue(has(.middle, 899, 1000)); XCTAssertFalse(has(.middle, 900, 1000)); XCTAssertFalse(has(.recent, 900, 1000))
        XCTAssertTrue(has(.recent, 901, 1000))
        XCTAssertTrue(has(.sink, 10, 50) && has(.recent, 10, 50))
        // Tiled: every key in exactly one band; a short sequence is all sink.
        for n in [50, 1000] {
            for k in 0..<n {
                let bands = [CalibrationRule.Band.sink, .middle, .recent].filter { has($0, k, n, .tiled) }
                XCTAssertEqual(bands.count, 1, "key \(k) of \(n)")
                if n == 50 { XCTAssertEqual(bands, [.sink]) }
            }
        }
        let cal = AttentionCalibration(lambda: 0.1, width: 2, band: .sink, equalizeHeads: true)
        // Head 0: keys 0 and 1 (sink) above lambda; head 1: only key 0. Equalising pads head 1
        // with its lowest-scoring candidate that is not already chosen.
        let scores: [[Float]] = [[0.5, 0.3, 0.05, 0.1, 0.05], [0.6, 0.05, 0.01, 0.3, 0.04]]
        let keys = (0..<5).map { EvictionCandidate(key: $0, position: $0) }
        let r = cal.select(EvictionInput(scores: scores, candidates: [keys, keys]))
        let (sel, outliers) = (r.evicted, r.outliers)
        XCTAssertEqual(outliers, [2, 1])
        XCTAssertEqual(sel[0], [0, 1])
        XCTAssertEqual(sel[1], [0, 2])
        let noEq = AttentionCalibration(lambda: 0.1, width: 2, band: .sink, equalizeHeads: false)
        XCTAssertEqual(noEq.select(EvictionInput(scores: scores, candidates: [keys, keys])).evicted[1], [0])
        // A later chunk's candidates start at key 1 (its BOS is not one) but keep their positions:
        // the sink of width 2 is position 1 only, and padding never picks a non-candidate.
        let rest = Array(keys.dropFirst())
        let r2 = cal.select(EvictionInput(scores: scores, candidates: [rest, rest]))
        let (sel2, out2) = (r2.evicted, r2.outliers)
        XCTAssertEqual(out2, [1, 0])
        XCTAssertEqual(sel2, [[1], [2]])
    }

    /// The head-agnostic variant (official `prefill_2_calibration_I_J`, spec 4.4): the mean over
    /// heads decides, every head loses the same keys, and no band applies.
    func testHeadAgnosticCalibration() throws {
        let rules = try CalibrationRule.parseList("prefill_2_calibration_20_29", layerCount: 30)
        XCTAssertEqual(rules, [CalibrationRule(band: .all, layers: 20...29, stage: .query, perHead: false)])
        XCTAssertEqual(try CalibrationRule.parseList("prefill_1_calibration_head_sink_1_29", layerCount: 30),
                       [CalibrationRule(band: .sink, layers: 1...29, stage: .chunk)])
        XCTAssertThrowsError(try CalibrationRule.parseList("prefill_2_calibration_20_40", layerCount: 30))
        let cal = HeadAgnosticCalibration(lambda: 0.1)
        // Means over the two heads: [0.15, 0.05, 0.3, 0.11]; key 2 is far outside any width-1 sink.
        let scores: [[Float]] = [[0.3, 0.1, 0.0, 0.12], [0.0, 0.0, 0.6, 0.10]]
        let keys = (0..<4).map { EvictionCandidate(key: $0, position: $0) }
        let r = cal.select(EvictionInput(scores: scores, candidates: [keys, keys]))
        let (sel, out) = (r.evicted, r.outliers)
        XCTAssertEqual(sel, [[0, 2, 3], [0, 2, 3]])
        XCTAssertEqual(out, [3, 3])
        // The shared selector is the only place that turns scores into evictions: keepTop keeps
        // the best n (ties to the earlier key), evictAbove takes only eligible keys.
        let tied = ScoredCandidates(keys: [[3, 5, 7, 9]], scores: [[0.2, 0.5, 0.5, 0.1]], eligible: [[true, false, true, true]])
        XCTAssertEqual(EvictionRule.keepTop(2).select(tied).evicted, [[3, 9]])
        XCTAssertEqual(EvictionRule.keepTop(9).select(tied).evicted, [[]])
        XCTAssertEqual(EvictionRule.evictAbove(lambda: 0.15, equalizeHeads: false).select(tied).evicted, [[3, 7]])
    }

    /// Ranking by the whole chunk's own NLL (official query_rank=false) equals the causal model's
    /// NLL of the chunk input [BOS ctx BOS q], computed independently; the random ablation is a
    /// seeded uniform score, reproducible, and picks the chunk with the lowest one.
    func testChunkRankings() throws {
        let (model, tok) = try Fixtures.tinyModel()
        let text = try passage()
        var config = ParallelCompConfig()
        config.chunkTokens = 96; config.keepChunks = 1; config.maxNewTokens = 1; config.ranking = .chunk
        let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: PromptFormat.forTokenizer(tok))
        let prep = try pc.prepare(context: text, question: "Who designed the new lighthouse lens?")
        let r = try pc.run(prep, generate: false)
        let input = prep.chunks[1].tokens + r.questionIDs
        let logits = try model.forward(tokens: input, positions: Array(0..<input.count), cache: model.makeCache(),
                                       logitRows: Array(0..<(input.count - 1)))
        let want = ParallelCompPipeline.questionNLL(logits: logits, vocab: model.config.vocabSize, question: Array(input.dropFirst()),
                                                    scoreTokens: 0, formula: .official, eos: tok.eosID)
        XCTAssertEqual(r.chunks[1].nll!, want, accuracy: 1e-4)
        XCTAssertEqual(r.chunks.map { $0.nll! }.min(), r.chunks[r.keptChunkIDs[0]].nll)

        // The random ablation: the seeded scores, recomputed here, decide the pick.
        func randomPick(_ seed: UInt64) -> Int {
            let scores = prep.chunks.map { ch -> Double in
                var rng = SplitMix64(seed: seed &+ UInt64(ch.id) &* 0x9E37_79B9_7F4A_7C15)
                return Double(rng.next() >> 11) / Double(1 << 53) * 3
            }
            return scores.indices.min { scores[$0] < scores[$1] }!
        }
        XCTAssertGreaterThan(Set((1...8).map { randomPick(UInt64($0)) }).count, 1, "seeds should not all pick one chunk")
        for seed: UInt64 in [1, 2] {
            var rc = config; rc.ranking = .random; rc.rankingSeed = seed
            let pr = ParallelCompPipeline(model: model, tokenizer: tok, config: rc, format: PromptFormat.forTokenizer(tok))
            XCTAssertEqual(try pr.run(prep, generate: false).keptChunkIDs, [randomPick(seed)], "seed \(seed)")
        }
    }

    /// `stage_eviction` (spec 3.2): nothing is compressed per chunk, the question prefill and so
    /// the first answer token see the full cache, and afterwards every head keeps exactly
    /// min(C', c_last) x K - w keys chosen by pooled attention of the last w question rows (the
    /// question's keys competing), plus the last w keys: recomputed here from an observer's scores.
    func testCompressionAfterTheQuestion() throws {
        let (model, tok) = try Fixtures.tinyModel()
        let text = try passage()
        var base = ParallelCompConfig()
        base.chunkTokens = 96; base.keepChunks = 2; base.maxNewTokens = 3
        var config = base
        config.compression = .init(capacity: 40, window: 8, kernel: 7, stage: .question)
        let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: PromptFormat.forTokenizer(tok))
        let prep = try pc.prepare(context: text, question: "Who designed the new lighthouse lens?")
        let watch = KeyScoreObserver(stage: .global, lastRows: 8, layers: model.config.layerCount, heads: model.config.headCount)
        let r = try pc.run(prep, observers: [watch])
        let plain = try ParallelCompPipeline(model: model, tokenizer: tok, config: base, format: PromptFormat.forTokenizer(tok)).run(prep)
        XCTAssertEqual(r.evictions.compression.reduce(0, +), 0, "nothing compressed per chunk")
        XCTAssertEqual(r.chunks.map(\.nll), plain.chunks.map(\.nll))
        XCTAssertEqual(r.keptChunkIDs, plain.keptChunkIDs)
        XCTAssertEqual(r.answerIDs.first, plain.answerIDs.first, "the question prefill attends with the full cache")
        let total = r.combinedKeys + r.questionIDs.count, w = 8
        let cPrime = min(40, prep.chunks.map { $0.contextLength - 1 }.min()!)
        let budget = min(cPrime, prep.chunks.last!.contextLength) * 2 - w
        let evicted = try XCTUnwrap(r.evictedStage)
        for l in 0..<model.config.layerCount {
            for h in 0..<model.config.headCount {
                let scores = Array(watch.scores(layer: l, head: h))
                let cand = Array(0..<(total - w))
                var pooled = [Float](repeating: 0, count: cand.count)
                for i in cand.indices { pooled[i] = (max(0, i - 3)...min(cand.count - 1, i + 3)).map { scores[$0] }.max()! }
                let keep = Set(cand.indices.sorted { pooled[$0] != pooled[$1] ? pooled[$0] > pooled[$1] : $0 < $1 }.prefix(budget))
                XCTAssertEqual(evicted[l][h], cand.filter { !keep.contains($0) }, "layer \(l) head \(h)")
                XCTAssertEqual(r.evictions.stageCompression[l * model.config.headCount + h], total - w - budget)
            }
        }
    }

    /// Observers never change a number: with every chunk pass, the question and decoding watched,
    /// chunk scores, the last row's logits and the answer are bit-identical to an unwatched run.
    func testObserversChangeNothing() throws {
        let (model, tok) = try Fixtures.tinyModel()
        let text = try passage()
        var config = ParallelCompConfig()
        config.chunkTokens = 96; config.keepChunks = 2; config.maxNewTokens = 4
        let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: PromptFormat.forTokenizer(tok))
        pc.memo = nil
        let prep = try pc.prepare(context: text, question: "Who designed the new lighthouse lens?")
        let plain = try pc.run(prep)
        let L = model.config.layerCount, H = model.config.headCount
        let watchers = [KeyScoreObserver(stage: .local, lastRows: 4, layers: L, heads: H),
                        KeyScoreObserver(stage: .global, lastRows: 4, layers: L, heads: H),
                        KeyScoreObserver(stage: .decode, lastRows: 1, layers: L, heads: H)]
        let watched = try pc.run(prep, observers: watchers)
        for w in watchers { XCTAssertTrue(w.keyCount > 0 && w.scores.contains { $0 > 0 }, "\(w.stage) saw nothing") }
        XCTAssertGreaterThan(plain.answerIDs.count, 1)
        XCTAssertEqual(watched.chunks.map(\.nll), plain.chunks.map(\.nll))
        XCTAssertEqual(watched.top20Logits, plain.top20Logits)
        XCTAssertEqual(watched.answerIDs, plain.answerIDs)
    }

    /// SnapKV keeps each head's best `budget` candidates by max-pooled score; pooling sees only
    /// candidates (a later chunk's BOS, not a candidate, cannot lift its neighbours).
    func testSnapKVSelection() {
        let snap = SnapKVCompression(.init(capacity: 2, window: 8, kernel: 3), budget: 2)
        func kept(_ s: [Float], _ cand: Range<Int>) -> [Int] {
            let c = cand.map { EvictionCandidate(key: $0, position: $0) }
            let gone = Set(snap.select(EvictionInput(scores: [s], candidates: [c])).evicted[0])
            return cand.filter { !gone.contains($0) }
        }
        let s: [Float] = [0.0, 0.9, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0]
        // Pooled: [0.9, 0.9, 0.9, 0, 0, 0.5, 0.5, 0.5]: keep keys 0 and 1 (ties: the lower index).
        XCTAssertEqual(kept(s, 0..<8), [0, 1])
        XCTAssertEqual(kept(s, 0..<2), [0, 1])
        let b: [Float] = [5.0, 0.0, 0.1, 0.0, 0.0, 0.2, 0.0, 0.0]
        // Candidates 1..<8 pooled: [0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.0]: keys 4 and 5 by pool, then the lower index.
        XCTAssertEqual(kept(b, 1..<8), [4, 5])
    }

    /// Keeping the highest-NLL chunks (the official code's positive topk) picks the complement.
    func testSelectionSign() throws {
        let (model, tok) = try Fixtures.tinyModel()
        let text = try passage()
        var config = ParallelCompConfig()
        config.chunkTokens = 96; config.keepChunks = 1; config.selection = .highestNLL
        let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: PromptFormat.forTokenizer(tok))
        let r = try pc.run(try pc.prepare(context: text, question: "What is this about?"), generate: false)
        XCTAssertGreaterThan(Set(r.chunks.map { $0.nll! }).count, 1)
        XCTAssertEqual(r.chunks.map { $0.nll! }.max(), r.chunks[r.keptChunkIDs[0]].nll)
    }

    /// A batched chunk prefill gives the same scores and answer as one chunk at a time.
    func testBatchedChunksEqualOneByOne() throws {
        let (model, tok) = try Fixtures.tinyModel()
        let text = try passage()
        var results: [ParallelCompPipeline.Result] = []
        for batch in [1, 3] {
            var config = ParallelCompConfig()
            config.chunkTokens = 96; config.keepChunks = 2; config.maxNewTokens = 6; config.batchChunks = batch
            let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: PromptFormat.forTokenizer(tok))
            results.append(try pc.run(try pc.prepare(context: text, question: "Who designed the new lighthouse lens?")))
        }
        XCTAssertGreaterThan(results[0].chunks.count, 3, "more than one batch of 3")
        XCTAssertGreaterThan(results[0].answerIDs.count, 1)
        for (a, b) in zip(results[0].chunks, results[1].chunks) { XCTAssertEqual(a.nll!, b.nll!, accuracy: 1e-4) }
        XCTAssertEqual(results[0].keptChunkIDs, results[1].keptChunkIDs)
        XCTAssertEqual(results[0].answerIDs, results[1].answerIDs)
    }

    /// The pipeline on the golden layout reproduces the reference's last-query logits.
    func testGoldenLayoutLogitsThroughPipeline() throws {
        let model = try Fixtures.expandedModel(), tok = try tokenizer()
        let g = try Fixtures.golden("attn_mass.json")
        let chunks = (g["chunk_ids"] as! [[NSNumber]]).map { $0.map(\.intValue) }
        let q = (g["query_ids"] as! [NSNumber]).map(\.intValue)
        var config = ParallelCompConfig()
        config.keepChunks = 3; config.keepEveryChunkFirstToken = true; config.maxNewTokens = 1
        config.questionBOS = false   // the reference's query ids already start with <|im_start|>
        let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: PromptFormat.forTokenizer(tok))
        let r = try pc.run(try .init(chunkTokenIDs: chunks, questionIDs: q))
        let top = (g["last_query_top20_ids"] as! [NSNumber]).map(\.intValue)
        XCTAssertEqual(r.answerIDs.first, top[0])
        XCTAssertEqual(r.queryPosition, 96)
        XCTAssertEqual(r.combinedKeys, 288)
    }

    /// Identical chunks are scored once: with the memo the scores, kept chunks and answer equal a
    /// run that prefills every chunk, and every repeat after the heap is full is skipped.
    func testIdenticalChunksReuseScores() throws {
        let (model, tok) = try Fixtures.tinyModel()
        let text = try passage()
        let ids = tok.encode(text, parseSpecial: false, addBOS: false)
        let a = Array(ids[0..<48]), b = Array(ids[48..<96]), c = Array(ids[96..<144])
        let q = PromptFormat.forTokenizer(tok).questionIDs(tok, question: "Who designed the new lighthouse lens?")
        let prep = try ParallelCompPipeline.Prepared(chunkTokenIDs: [a, b, a, c, a, b], questionIDs: q)
        // Both tie rules: under the official one an equal score enters the heap and pops the
        // earlier copy, whose cache is the same, so a repeat is relabelled, not prefilled.
        for tie in ParallelCompConfig.TieBreak.allCases {
            var results: [ParallelCompPipeline.Result] = []
            for useMemo in [false, true] {
                var config = ParallelCompConfig()
                config.keepChunks = 1; config.maxNewTokens = 4; config.tieBreak = tie
                // Under the official rule, chunk-stage calibration too: its evictions are
                // remembered with the score, so the run's log still counts every chunk.
                if tie == .keepLater { config.calibration = [CalibrationRule(band: .sink, layers: 0...(model.config.layerCount - 1), stage: .chunk)] }
                let pc = ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: PromptFormat.forTokenizer(tok))
                if !useMemo { pc.memo = nil }
                results.append(try pc.run(prep))
            }
            XCTAssertEqual(results[0].timings["chunks_reused"], 0)
            // Calibrated, the first chunk (whose BOS may be evicted) shares no score with its
            // later copies: chunks 4 and 5 reuse 2 and 1; otherwise 2, 4 and 5 reuse.
            XCTAssertEqual(results[1].timings["chunks_reused"], tie == .keepLater ? 2 : 3, "\(tie)")
            for (x, y) in zip(results[0].chunks, results[1].chunks) { XCTAssertEqual(x.nll!, y.nll!, accuracy: 1e-9) }
            XCTAssertEqual(results[0].keptChunkIDs, results[1].keptChunkIDs, "\(tie)")
            XCTAssertEqual(results[0].answerIDs, results[1].answerIDs)
            XCTAssertEqual(results[0].evictions.calibrationChunk, results[1].evictions.calibrationChunk)
            XCTAssertEqual(results[0].evictions.outliersChunk, results[1].evictions.outliersChunk)
            XCTAssertEqual(results[0].evictedChunk, results[1].evictedChunk)
            if tie == .keepLater { XCTAssertGreaterThan(results[1].evictions.calibrationChunk.reduce(0, +), 0) }
        }
    }
}
