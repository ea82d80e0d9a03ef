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

    /// The official code's character split: n = ceil(T / maxTokens) from the token count, then
    /// the decoded text is cut every floor(N / n) characters, and the remainder is appended to
    /// the n-th piece (so cuts can fall mid-word).
    public static func byCharacters(text: String, tokenCount T: Int, maxTokens: Int) -> [String] {
        guard T > 0 else { return [] }
        let n = (T + maxTokens - 1) / maxTokens
        let chars = Array(text)
        let N = chars.count
        let w = max(1, N / n)
        var pieces: [String] = []
        var i = 0
        while i < N { pieces.append(String(chars[i..<min(i + w, N)])); i += w }
        if N - w * n > 0, pieces.count >= 2 {
            pieces[pieces.count - 2] += String(chars[(N - (N - w * n))...])
            pieces.removeLast()
        }
        return pieces
    }
}
