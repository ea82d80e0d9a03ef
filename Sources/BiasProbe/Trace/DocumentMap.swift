import PCInference

/// The traced document as the model read it: its token ids, its text, and where each token
/// starts in that text, so a key of the combined cache can be traced back to the words it holds.
struct DocumentMap {
    let ids: [Int]
    /// The document's text: the tokens' bytes in order (for a byte-level vocabulary, exactly the
    /// input text; a SentencePiece vocabulary writes its word marks as spaces).
    let text: String
    /// Per token, the offset of its first character in `text`, in Unicode scalars (Python string
    /// indices); a token that starts inside a character gets that character's offset.
    let tokenCharStart: [Int]
    /// Unicode scalars in `text`.
    let charCount: Int

    init(ids: [Int], tokenizer: Tokenizer) {
        var bytes: [UInt8] = []
        var starts: [Int] = []
        starts.reserveCapacity(ids.count)
        var scalars = 0
        for id in ids {
            let b = tokenizer.bytes(of: id)
            // A byte that is not a UTF-8 continuation byte starts a scalar.
            starts.append(b.first.map { $0 & 0xC0 == 0x80 } ?? false ? max(0, scalars - 1) : scalars)
            for x in b where x & 0xC0 != 0x80 { scalars += 1 }
            bytes.append(contentsOf: b)
        }
        self.ids = ids
        text = String(decoding: bytes, as: UTF8.self)
        tokenCharStart = starts
        charCount = text.unicodeScalars.count
    }

    /// [start, end) in characters of document tokens `tokens`.
    func charSpan(_ tokens: Range<Int>) -> Range<Int> {
        let lo = tokens.lowerBound < tokenCharStart.count ? tokenCharStart[tokens.lowerBound] : charCount
        let hi = tokens.upperBound < tokenCharStart.count ? tokenCharStart[tokens.upperBound] : charCount
        return lo..<max(lo, hi)
    }
}

/// What a key index of the combined cache (the `key` axis of global/key_scores) holds.
enum KeyOrigin: Equatable {
    /// Document token `token` of chunk `chunk`.
    case document(chunk: Int, token: Int)
    /// The chunk's prompt prefix (BOS, template), position `index` in the chunk.
    case prefix(chunk: Int, index: Int)
    /// Question token `index`.
    case question(index: Int)

    /// Maps `key` through the kept chunks' spans. The combined cache holds each kept chunk's
    /// prefilled tokens in order, a later chunk without its first token (its BOS), so a span one
    /// shorter than the chunk starts at the chunk's second token.
    static func of(key: Int, spans: [Range<Int>], keptIDs: [Int], chunkLength: [Int], chunkTokenStart: [Int], prefixLength: Int) -> KeyOrigin? {
        guard key >= 0 else { return nil }
        for (j, span) in spans.enumerated() where span.contains(key) {
            guard j < keptIDs.count, keptIDs[j] < chunkLength.count else { return nil }
            let c = keptIDs[j]
            let local = key - span.lowerBound + (chunkLength[c] - span.count)
            if local < prefixLength { return .prefix(chunk: c, index: local) }
            guard c < chunkTokenStart.count, chunkTokenStart[c] >= 0 else { return nil }
            return .document(chunk: c, token: chunkTokenStart[c] + local - prefixLength)
        }
        let combined = spans.last?.upperBound ?? 0
        return key >= combined ? .question(index: key - combined) : nil
    }
}
