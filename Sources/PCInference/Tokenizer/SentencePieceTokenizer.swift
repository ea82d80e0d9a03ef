/// SentencePiece encoding as GGUF stores it (`tokenizer.ggml.model = llama`), following llama.cpp's
/// `llm_tokenizer_spm`: no pre-tokenizer, spaces become `▁`, characters are merged pairwise by the
/// highest score of the merged piece (leftmost on ties), and a character with no token falls back to
/// its UTF-8 bytes as `<0xXX>` tokens. Special tokens are split out beforehand by `Tokenizer`.
struct SentencePieceModel: Sendable {
    /// Per-token scores (`tokenizer.ggml.scores`).
    let scores: [Float]
    /// Byte value → id of its `<0xXX>` token (-1 when missing).
    let byteTokens: [Int32]

    init(tokenCount: Int, scores: [Float], tokenToID: [String: Int]) throws {
        guard scores.count == tokenCount else {
            throw TokenizerError("the vocabulary has \(tokenCount) tokens but \(scores.count) scores")
        }
        self.scores = scores
        var bt = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            let name = "<0x" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true) + ">"
            if let i = tokenToID[name] { bt[b] = Int32(i) }
        }
        byteTokens = bt
    }

    /// The vocabulary string of a run of text: `▁` for every space.
    static func escape(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 8)
        for b in bytes { if b == 0x20 { out += [0xE2, 0x96, 0x81] } else { out.append(b) } }
        return out
    }

    /// The bytes a vocabulary string stands for: `▁` → space, `<0xXX>` byte tokens → that byte.
    static func decode(_ token: String, isByte: Bool) -> [UInt8] {
        if isByte, token.utf8.count == 6, let v = UInt8(token.dropFirst(3).dropLast(), radix: 16) { return [v] }
        var out: [UInt8] = []
        let u = Array(token.utf8)
        var i = 0
        while i < u.count {
            if i + 2 < u.count, u[i] == 0xE2, u[i + 1] == 0x96, u[i + 2] == 0x81 { out.append(0x20); i += 3 } else { out.append(u[i]); i += 1 }
        }
        return out
    }

    /// Encode one piece of text that holds no special tokens.
    func encode(_ raw: UnsafeBufferPointer<UInt8>, lookup: (ArraySlice<UInt8>) -> Int?, into out: inout [Int]) {
        let text = Self.escape(raw)
        guard !text.isEmpty else { return }
        // Symbols: one per UTF-8 character, linked so merged neighbours drop out.
        var start: [Int] = [], len: [Int] = [], prev: [Int] = [], next: [Int] = []
        var o = 0
        while o < text.count {
            let b = text[o]
            let n = min(b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4, text.count - o)
            prev.append(start.count - 1); start.append(o); len.append(n)
            o += n
            next.append(o == text.count ? -1 : start.count)
        }
        var heap = BigramHeap()
        func tryAdd(_ l: Int, _ r: Int) {
            guard l >= 0, r >= 0 else { return }
            let s = start[l], n = len[l] + len[r]
            guard let id = lookup(text[s..<(s + n)]) else { return }
            heap.push(.init(score: scores[id], left: l, right: r, size: n))
        }
        for i in 1..<start.count { tryAdd(i - 1, i) }
        while let bg = heap.pop() {
            // Stale entries: one side already merged away, or grown since the pair was queued.
            guard len[bg.left] > 0, len[bg.right] > 0, len[bg.left] + len[bg.right] == bg.size else { continue }
            len[bg.left] += len[bg.right]; len[bg.right] = 0
            next[bg.left] = next[bg.right]
            if next[bg.right] >= 0 { prev[next[bg.right]] = bg.left }
            tryAdd(prev[bg.left], bg.left)
            tryAdd(bg.left, next[bg.left])
        }
        var i = 0
        while i != -1 {
            let piece = text[start[i]..<(start[i] + len[i])]
            if let id = lookup(piece) {
                out.append(id)
            } else {
                // Merges only ever form vocabulary pieces, so this is a single unknown character.
                for b in piece where byteTokens[Int(b)] >= 0 { out.append(Int(byteTokens[Int(b)])) }
            }
            i = next[i]
        }
    }
}

/// Candidate merge of two adjacent symbols; the heap's top has the highest score, then the lowest left index.
struct Bigram { let score: Float; let left: Int; let right: Int; let size: Int }

struct BigramHeap {
    private var a: [Bigram] = []
    @inline(__always) private static func before(_ x: Bigram, _ y: Bigram) -> Bool {
        x.score > y.score || (x.score == y.score && x.left < y.left)
    }
    mutating func push(_ b: Bigram) {
        a.append(b)
        var i = a.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard Self.before(a[i], a[p]) else { break }
            a.swapAt(i, p); i = p
        }
    }
    mutating func pop() -> Bigram? {
        guard let top = a.first else { return nil }
        let last = a.removeLast()
        if !a.isEmpty {
            a[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < a.count, Self.before(a[l], a[m]) { m = l }
                if r < a.count, Self.before(a[r], a[m]) { m = r }
                if m == i { break }
                a.swapAt(i, m); i = m
            }
        }
        return top
    }
}

extension Tokenizer {
    /// Whether this is a SentencePiece vocabulary (no pre-tokenizer; `preTokenizer` is then unused).
    public var isSentencePiece: Bool { sentencePiece != nil }
}
