/// Splits a long context into chunks of at most a given number of content tokens.
public enum Chunker {
    /// Token split: n = ceil(T / maxTokens) chunks of nearly equal token counts.
    public static func byTokens(count T: Int, maxTokens: Int) -> [Range<Int>] {
        precondition(maxTokens > 0)
        guard T > 0 else { return [] }
        let n = (T + maxTokens - 1) / maxTokens
        return (0..<n).map { i in (i * T / n)..<((i + 1) * T / n) }
    }

    /// Sentence-aware token split: chunks of at most `maxTokens` tokens, each ending after the
    /// last sentence-ending token in its second half (a cut inside a sentence can separate a fact
    /// from its subject, and a chunk that stops mid-sentence scores the question worse for that
    /// reason alone). A chunk with no sentence end in its second half is cut at `maxTokens`.
    public static func bySentences(count T: Int, maxTokens: Int, endsSentence: (Int) -> Bool) -> [Range<Int>] {
        precondition(maxTokens > 0)
        var out: [Range<Int>] = []
        var start = 0
        while start < T {
            var end = min(start + maxTokens, T)
            if end < T {
                var t = end - 1
                while t >= start + maxTokens / 2 && !endsSentence(t) { t -= 1 }
                if t >= start + maxTokens / 2 { end = t + 1 }
            }
            out.append(start..<end)
            start = end
        }
        return out
    }

    /// One piece of the character split: its text and its offsets in Unicode scalars.
    public struct Piece: Sendable, Equatable { public var text: String; public var scalars: Range<Int> }

    /// The official code's character split: n = ceil(T / maxTokens) from the token count T (BOS
    /// counted), then the text is cut every w = floor(N / n) Unicode scalars (Python's string
    /// indexing counts code points, not grapheme clusters), the remainder going to the n-th piece;
    /// cuts can fall mid-word.
    public static func byCharacters(text: String, tokenCount T: Int, maxTokens: Int) -> [Piece] {
        precondition(maxTokens > 0)
        guard T > 0 else { return [] }
        let scalars = Array(text.unicodeScalars), N = scalars.count
        let n = min((T + maxTokens - 1) / maxTokens, max(1, N))
        let w = N / n
        return (0..<n).map { i in
            let r = (i * w)..<(i == n - 1 ? N : (i + 1) * w)
            var u = String.UnicodeScalarView()
            u.append(contentsOf: scalars[r])
            return Piece(text: String(u), scalars: r)
        }
    }
}
