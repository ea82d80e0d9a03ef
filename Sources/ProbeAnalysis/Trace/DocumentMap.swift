import PCInference

/// The traced document as the model read it: its token ids, its text, and where each token
/// starts in that text, so a key of the combined cache can be traced back to the words it holds.
public struct DocumentMap {
    public let ids: [Int]
    /// The document's text: the tokens' bytes in order (for a byte-level vocabulary, exactly the
    /// input text; a SentencePiece vocabulary writes its word marks as spaces).
    public let text: String
    /// Per token, the offset of its first character in `text`, in Unicode scalars (Python string
    /// indices); a token that starts inside a character gets that character's offset.
    public let tokenCharStart: [Int]
    /// Unicode scalars in `text`.
    public let charCount: Int
    public let tokenizer: Tokenizer

    public init(ids: [Int], tokenizer: Tokenizer) {
        let (bytes, starts) = Self.decode(ids, tokenizer)
        self.ids = ids
        self.tokenizer = tokenizer
        text = String(decoding: bytes, as: UTF8.self)
        tokenCharStart = starts
        charCount = text.unicodeScalars.count
    }

    /// The tokens' bytes in order, and where each token starts in them, in Unicode scalars (a
    /// byte that is not a UTF-8 continuation byte starts one; a token starting mid-character gets
    /// that character's index).
    public static func decode(_ ids: [Int], _ tokenizer: Tokenizer) -> (bytes: [UInt8], starts: [Int]) {
        var bytes: [UInt8] = [], starts: [Int] = []
        starts.reserveCapacity(ids.count)
        var scalars = 0
        for id in ids {
            let b = tokenizer.bytes(of: id)
            starts.append(b.first.map { $0 & 0xC0 == 0x80 } ?? false ? max(0, scalars - 1) : scalars)
            for x in b where x & 0xC0 != 0x80 { scalars += 1 }
            bytes.append(contentsOf: b)
        }
        return (bytes, starts)
    }

    /// [start, end) in characters of document tokens `tokens`.
    public func charSpan(_ tokens: Range<Int>) -> Range<Int> {
        let lo = tokens.lowerBound < tokenCharStart.count ? tokenCharStart[tokens.lowerBound] : charCount
        let hi = tokens.upperBound < tokenCharStart.count ? tokenCharStart[tokens.upperBound] : charCount
        return lo..<max(lo, hi)
    }
}

extension DocumentMap {
    /// For every prefilled token of every chunk (chunks in order), the document character where
    /// it starts, or -1 for a token that is not document text (BOS, prompt template). Found by
    /// locating the chunk's document text inside the decoded chunk, so it holds for every split
    /// and template; a chunk whose text is not found whole (a middle-cut chunk) maps to -1.
    public func chunkTokenChars(_ chunks: [ParallelCompPipeline.Chunk], tokenizer: Tokenizer) -> [Int] {
        let doc = Array(text.unicodeScalars)
        var out: [Int] = []
        for ch in chunks {
            let (bytes, starts) = Self.decode(ch.tokens, tokenizer)
            let decoded = Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)
            let span = ch.documentCharacters ?? ch.documentTokens.map { charSpan($0) }
            guard let span, span.upperBound <= doc.count, let at = Self.find(doc[span], in: decoded) else {
                out += Array(repeating: -1, count: ch.tokens.count)
                continue
            }
            for s in starts { out.append(s >= at && s < at + span.count ? span.lowerBound + s - at : -1) }
        }
        return out
    }

    /// First index of `needle` in `hay` (the chunk's template is short, so few starts are tried).
    public static func find(_ needle: ArraySlice<Unicode.Scalar>, in hay: [Unicode.Scalar]) -> Int? {
        guard !needle.isEmpty, needle.count <= hay.count else { return nil }
        let first = needle.first!
        for i in 0...(hay.count - needle.count) where hay[i] == first {
            if hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
        }
        return nil
    }
}

/// What a key index of the combined cache (the `key` axis of global/key_scores) holds.
public enum KeyOrigin: Equatable {
    /// Token `index` of chunk `chunk` as it was prefilled.
    case chunk(chunk: Int, index: Int)
    /// Question token `index`.
    case question(index: Int)

    /// Maps `key` through the kept chunks' spans. The combined cache holds each kept chunk's
    /// prefilled tokens in order, a later chunk without its first token (its BOS), so a span one
    /// shorter than the chunk starts at the chunk's second token.
    public static func of(key: Int, spans: [Range<Int>], keptIDs: [Int], chunkLength: [Int]) -> KeyOrigin? {
        guard key >= 0 else { return nil }
        for (j, span) in spans.enumerated() where span.contains(key) {
            guard j < keptIDs.count, keptIDs[j] < chunkLength.count else { return nil }
            let c = keptIDs[j]
            return .chunk(chunk: c, index: key - span.lowerBound + (chunkLength[c] - span.count))
        }
        let combined = spans.last?.upperBound ?? 0
        return key >= combined ? .question(index: key - combined) : nil
    }
}
