/// Turns generated token ids into text as they arrive. Bytes of a UTF-8 character split across
/// tokens are held back until the character is complete, so no U+FFFD appears mid-stream.
public struct StreamingDecoder: Sendable {
    public let tokenizer: Tokenizer
    public let skipSpecial: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: Tokenizer, skipSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecial = skipSpecial
    }

    /// Bytes held back because they may be the start of an unfinished character.
    public var pendingByteCount: Int { pending.count }

    /// Add one token; returns the text that is now complete (possibly "").
    public mutating func append(_ id: Int) -> String {
        if skipSpecial && tokenizer.isSpecial(id) { return "" }
        pending.append(contentsOf: tokenizer.bytes(of: id))
        let cut = StreamingDecoder.completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[0..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Whatever is still held back (an unfinished character becomes U+FFFD); resets the decoder.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the longest prefix of `b` that does not end inside a character that later bytes
    /// could still complete. Bytes that can never become valid are not held back.
    static func completePrefixLength(_ b: [UInt8]) -> Int {
        let n = b.count
        // Find the last lead byte among the final (at most 4) bytes.
        var i = n - 1
        while i >= 0 && i >= n - 4 && b[i] & 0xC0 == 0x80 { i -= 1 }
        guard i >= 0 && i >= n - 4 else { return n }
        let lead = b[i]
        let need: Int
        switch lead {
        case 0xC2...0xDF: need = 2
        case 0xE0...0xEF: need = 3
        case 0xF0...0xF4: need = 4
        default: return n // ASCII or a byte that can never start a character
        }
        let have = n - i
        if have >= need { return n }
        // Held bytes must still be a possible start of a valid sequence (no overlongs or surrogates).
        if have >= 2 {
            let second = b[i + 1]
            let ok: Bool
            switch lead {
            case 0xE0: ok = second >= 0xA0
            case 0xED: ok = second <= 0x9F
            case 0xF0: ok = second >= 0x90
            case 0xF4: ok = second <= 0x8F
            default: ok = true
            }
            if !ok { return n }
        }
        return i
    }
}
