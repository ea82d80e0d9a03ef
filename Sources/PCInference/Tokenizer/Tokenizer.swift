import Foundation

/// Errors of the tokenizer. Every message is one line.
public struct TokenizerError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ message: String) { description = message }
}

/// GGUF `tokenizer.ggml.token_type` values.
public enum TokenType: Int, Sendable {
    case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}

/// GPT-2 style byte-level BPE tokenizer, built from the vocabulary and merges of a GGUF file.
///
/// Encoding: control tokens (token type 3, only when `parseSpecial`) and user-defined tokens
/// (type 4, always, as llama.cpp and HF `tokenizers` do) are split out of the text first, longest
/// token first; the rest is cut into pre-tokens (see `PreTokenizer`), and each pre-token's bytes are
/// merged by BPE, lowest merge rank first (leftmost on ties).
public final class Tokenizer: Sendable {
    /// Token strings as stored in the vocabulary (byte-level, e.g. "Ġworld").
    public let tokens: [String]
    public let tokenTypes: [TokenType]
    public let preTokenizer: PreTokenizerKind
    public let bosID: Int?
    public let eosID: Int?
    /// End-of-turn token: `tokenizer.ggml.eot_token_id`, or else (GGUF only) the control token
    /// `<|eot_id|>`, `<|im_end|>`, `<|end|>` or `<end_of_turn>`, as llama.cpp guesses it.
    public let eotID: Int?
    /// Whether `encode` adds BOS when its `addBOS` is nil (`tokenizer.ggml.add_bos_token`).
    public let addBOSByDefault: Bool
    /// Raw `tokenizer.chat_template` text, if the GGUF has one.
    public let chatTemplateText: String?
    /// Llama-3 style: a pre-token that is itself in the vocabulary is emitted without merging.
    public let ignoresMerges: Bool

    public var vocabSize: Int { tokens.count }

    /// Bytes whose single-byte token is absent from the vocabulary (SmolLM2 lacks a few control
    /// characters and bytes that never occur in UTF-8). Text needing such a byte on its own cannot be
    /// encoded exactly: like llama.cpp and HF `tokenizers` (with no unknown token), `encode` drops it.
    /// As in llama.cpp, the dropped byte still separates its neighbours during merging.
    public let missingByteTokens: [UInt8]

    private let tokenToID: [String: Int]
    /// Token id of each byte's one-character token.
    private let byteTokens: [Int32]
    /// (left id << 32 | right id) → (rank << 32 | merged id).
    private let mergeTable: [UInt64: UInt64]
    /// Raw bytes → id of normal tokens, for `ignoresMerges`.
    private let rawVocab: [[UInt8]: Int32]
    /// The bytes each token decodes to, flattened: token i is `decodedBytes[decodedStart[i]..<decodedStart[i+1]]`.
    private let decodedBytes: [UInt8]
    private let decodedStart: [Int]
    private let specials: [SpecialToken]
    private let cache = WordCache()
    /// Set for SentencePiece vocabularies (`tokenizer.ggml.model = llama`), which replace BPE merging.
    let sentencePiece: SentencePieceModel?

    struct SpecialToken: Sendable {
        let bytes: [UInt8]
        let id: Int32
        let control: Bool
    }

    /// Build from arrays, as stored in a GGUF file.
    /// - Parameters:
    ///   - tokens: vocabulary strings in byte-level form. Most of the 256 single-byte tokens must be
    ///     present (see `missingByteTokens`); with half of them missing it is not a byte-level vocabulary.
    ///   - tokenTypes: GGUF token types (nil: all normal).
    ///   - merges: "left right" pairs, highest priority first.
    ///   - ignoreMerges: nil means true for `llama-bpe` (as llama.cpp does) and false otherwise.
    public init(tokens: [String], tokenTypes: [Int]? = nil, merges: [String],
                preTokenizer: PreTokenizerKind = .gpt2, bosID: Int? = nil, eosID: Int? = nil, eotID: Int? = nil,
                addBOS: Bool = false, chatTemplate: String? = nil, ignoreMerges: Bool? = nil, scores: [Float]? = nil) throws {
        let n = tokens.count
        guard n > 0, n < Int(Int32.max) else { throw TokenizerError("the vocabulary has \(n) tokens") }
        var types: [TokenType] = []
        if let tt = tokenTypes {
            guard tt.count == n else {
                throw TokenizerError("the vocabulary has \(n) tokens but \(tt.count) token types")
            }
            types = tt.map { TokenType(rawValue: $0) ?? .undefined }
        } else {
            types = [TokenType](repeating: .normal, count: n)
        }
        for (name, id) in [("BOS", bosID), ("EOS", eosID), ("EOT", eotID)] {
            if let id, !(0..<n).contains(id) { throw TokenizerError("\(name) token id \(id) is outside the vocabulary of \(n) tokens") }
        }
        self.tokens = tokens
        self.tokenTypes = types
        self.preTokenizer = preTokenizer
        self.bosID = bosID
        self.eosID = eosID
        self.eotID = eotID
        self.addBOSByDefault = addBOS
        self.chatTemplateText = chatTemplate
        self.ignoresMerges = ignoreMerges ?? (preTokenizer == .llamaBPE)

        var toID: [String: Int] = [:]
        toID.reserveCapacity(n)
        for (i, t) in tokens.enumerated() where toID[t] == nil { toID[t] = i }
        tokenToID = toID
        let spm = try scores.map { try SentencePieceModel(tokenCount: n, scores: $0, tokenToID: toID) }
        sentencePiece = spm

        let bytes = try Self.byteTokenTable(toID, sentencePiece: spm != nil)
        byteTokens = bytes.tokens
        missingByteTokens = bytes.missing
        mergeTable = Self.mergeRanks(merges, toID)
        let (flat, starts) = Self.decodeAll(tokens, types, sentencePiece: spm != nil)
        decodedBytes = flat
        decodedStart = starts
        var raw: [[UInt8]: Int32] = [:]
        if ignoresMerges {
            raw.reserveCapacity(n)
            for i in 0..<n where types[i] == .normal {
                let key = Array(flat[starts[i]..<starts[i + 1]])
                if raw[key] == nil { raw[key] = Int32(i) }
            }
        }
        rawVocab = raw
        specials = Self.specialTokens(tokens, types, sentencePiece: spm != nil)
    }

    /// The token of each byte (-1 when missing) for byte-level BPE, and the bytes missing; a
    /// SentencePiece vocabulary has none.
    static func byteTokenTable(_ toID: [String: Int], sentencePiece: Bool) throws -> (tokens: [Int32], missing: [UInt8]) {
        var bt = [Int32](repeating: -1, count: 256)
        var missing: [UInt8] = []
        for b in 0..<256 where !sentencePiece {
            if let id = toID[String(Character(ByteLevel.byteToScalar[b]))] { bt[b] = Int32(id) } else { missing.append(UInt8(b)) }
        }
        guard missing.count < 128 else {
            throw TokenizerError("the vocabulary lacks \(missing.count) of the 256 byte tokens: it is not a byte-level BPE vocabulary")
        }
        return (bt, missing)
    }

    /// (left id, right id) -> (rank, merged id), the first of duplicate pairs winning.
    static func mergeRanks(_ merges: [String], _ toID: [String: Int]) -> [UInt64: UInt64] {
        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(merges.count)
        for (rank, m) in merges.enumerated() {
            let u = m.utf8
            guard let sp = u.firstIndex(of: 0x20) else { continue }
            let left = String(m[m.startIndex..<sp]), right = String(m[m.index(after: sp)...])
            guard let a = toID[left], let b = toID[right], let c = toID[left + right] else { continue }
            let key = UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))
            if table[key] == nil { table[key] = UInt64(rank) << 32 | UInt64(UInt32(c)) }
        }
        return table
    }

    /// Every token's bytes, flat, and where each starts (n + 1 offsets).
    static func decodeAll(_ tokens: [String], _ types: [TokenType], sentencePiece: Bool) -> ([UInt8], [Int]) {
        var flat: [UInt8] = []
        var starts: [Int] = [0]
        flat.reserveCapacity(tokens.count * 6)
        starts.reserveCapacity(tokens.count + 1)
        for (i, t) in tokens.enumerated() {
            switch types[i] {
            case .control, .userDefined: flat.append(contentsOf: t.utf8)
            case _ where sentencePiece: flat.append(contentsOf: SentencePieceModel.decode(t, isByte: types[i] == .byte))
            default: flat.append(contentsOf: ByteLevel.decode(t) ?? Array(t.utf8))
            }
            starts.append(flat.count)
        }
        return (flat, starts)
    }

    /// The tokens split out of text before BPE, longest first.
    static func specialTokens(_ tokens: [String], _ types: [TokenType], sentencePiece: Bool) -> [SpecialToken] {
        var sp: [SpecialToken] = []
        // SentencePiece: `<unk>` is split out like a control token (llama.cpp's partition).
        let unknownIsSpecial = sentencePiece
        for i in 0..<tokens.count where (types[i] == .control || types[i] == .userDefined || (unknownIsSpecial && types[i] == .unknown)) && !tokens[i].isEmpty {
            sp.append(SpecialToken(bytes: Array(tokens[i].utf8), id: Int32(i), control: types[i] != .userDefined))
        }
        sp.sort { $0.bytes.count != $1.bytes.count ? $0.bytes.count > $1.bytes.count : $0.id < $1.id }
        return sp
    }

    /// Read the tokenizer of a GGUF file (`tokenizer.ggml.*`, `tokenizer.chat_template`).
    public convenience init(gguf: GGUFFile) throws {
        let md = gguf.metadata
        guard let model = md["tokenizer.ggml.model"]?.string else {
            throw TokenizerError("\(gguf.path): tokenizer.ggml.model is missing")
        }
        guard model == "gpt2" || model == "llama" else {
            throw TokenizerError("\(gguf.path): tokenizer model \"\(model)\" is not supported (biasprobe reads byte-level BPE, \"gpt2\", and SentencePiece, \"llama\")")
        }
        // SentencePiece needs no pre-tokenizer; the name is only checked for BPE vocabularies.
        let preName = model == "llama" ? "default" : md["tokenizer.ggml.pre"]?.string ?? "default"
        guard let pre = PreTokenizerKind(ggufName: preName) else {
            throw TokenizerError("\(gguf.path): pre-tokenizer \"\(preName)\" is not supported (supported: smollm, llama-bpe, qwen2, default/gpt2)")
        }
        func strings(_ key: String) throws -> [String] {
            guard let arr = md[key]?.array else { throw TokenizerError("\(gguf.path): \(key) is missing") }
            var out: [String] = []
            out.reserveCapacity(arr.count)
            for v in arr {
                guard let s = v.string else { throw TokenizerError("\(gguf.path): \(key) holds a non-string") }
                out.append(s)
            }
            return out
        }
        let tokens = try strings("tokenizer.ggml.tokens")
        let merges = model == "llama" ? [] : try strings("tokenizer.ggml.merges")
        var scores: [Float]? = nil
        if model == "llama" {
            guard let arr = md["tokenizer.ggml.scores"]?.array else { throw TokenizerError("\(gguf.path): tokenizer.ggml.scores is missing") }
            scores = try arr.map {
                guard let d = $0.double else { throw TokenizerError("\(gguf.path): tokenizer.ggml.scores holds a non-number") }
                return Float(d)
            }
        }
        var types: [Int]? = nil
        if let arr = md["tokenizer.ggml.token_type"]?.array {
            types = try arr.map {
                guard let t = $0.int else { throw TokenizerError("\(gguf.path): tokenizer.ggml.token_type holds a non-integer") }
                return t
            }
        }
        func id(_ key: String) throws -> Int? {
            guard let v = md[key] else { return nil }
            guard let i = v.int, (0..<tokens.count).contains(i) else {
                throw TokenizerError("\(gguf.path): \(key) = \(v.summary) is not a token id of the \(tokens.count)-token vocabulary")
            }
            return i
        }
        var eot = try id("tokenizer.ggml.eot_token_id")
        if let types, types.count != tokens.count {
            throw TokenizerError("\(gguf.path): tokenizer.ggml.token_type has \(types.count) entries for \(tokens.count) tokens")
        }
        if eot == nil, let types {
            for name in ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>"] {
                if let i = tokens.firstIndex(of: name), types[i] == TokenType.control.rawValue { eot = i; break }
            }
        }
        try self.init(tokens: tokens, tokenTypes: types, merges: merges, preTokenizer: pre,
                      bosID: try id("tokenizer.ggml.bos_token_id"), eosID: try id("tokenizer.ggml.eos_token_id"),
                      eotID: eot, addBOS: md["tokenizer.ggml.add_bos_token"]?.bool ?? (pre == .llamaBPE || model == "llama"),
                      chatTemplate: md["tokenizer.chat_template"]?.string, scores: scores)
    }

    // MARK: lookup

    /// The vocabulary string of a token (byte-level, e.g. "Ġworld"); "" for ids outside the vocabulary.
    public func piece(_ id: Int) -> String { (0..<tokens.count).contains(id) ? tokens[id] : "" }

    /// The id of a vocabulary string, exactly as stored (byte-level for normal tokens).
    public func tokenID(for piece: String) -> Int? { tokenToID[piece] }

    /// Control tokens (token type 3: `<|im_start|>`, `<|endoftext|>`, …).
    public func isSpecial(_ id: Int) -> Bool { (0..<tokens.count).contains(id) && tokenTypes[id] == .control }

    /// The bytes a token stands for (control and user-defined tokens: their text); empty for bad ids.
    public func bytes(of id: Int) -> ArraySlice<UInt8> {
        guard (0..<tokens.count).contains(id) else { return [] }
        return decodedBytes[decodedStart[id]..<decodedStart[id + 1]]
    }

    // MARK: decoding

    /// Concatenate the tokens' bytes and decode them as UTF-8. Invalid or incomplete UTF-8 (e.g. a
    /// character cut between tokens at the end) becomes U+FFFD; ids outside the vocabulary are skipped.
    /// `skipSpecial` leaves out control tokens.
    public func decode(_ ids: [Int], skipSpecial: Bool = false) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * 4)
        for id in ids where !(skipSpecial && isSpecial(id)) { out.append(contentsOf: bytes(of: id)) }
        return String(decoding: out, as: UTF8.self)
    }

    /// A decoder for generated tokens that emits text only once its bytes form whole UTF-8 characters.
    public func streamingDecoder(skipSpecial: Bool = false) -> StreamingDecoder {
        StreamingDecoder(tokenizer: self, skipSpecial: skipSpecial)
    }

    // MARK: encoding

    /// Tokenise `text`. `addBOS` nil uses the GGUF's `add_bos_token`.
    public func encode(_ text: String, parseSpecial: Bool = true, addBOS: Bool? = nil) -> [Int] {
        // Never cancelled, so never throws.
        (try? encode(text, parseSpecial: parseSpecial, addBOS: addBOS, cancelled: { false })) ?? []
    }

    /// Tokenise `text`, asking `cancelled` between pre-tokens and during long merges: a long
    /// text (or one huge word, whose merging is quadratic) stops within moments of Ctrl-C,
    /// throwing CancellationError. Its words land in the shared cache, so encoding the same
    /// text again is fast.
    public func encode(_ text: String, parseSpecial: Bool = true, addBOS: Bool? = nil, cancelled: () -> Bool) throws -> [Int] {
        var out: [Int] = []
        if addBOS ?? addBOSByDefault, let bos = bosID { out.append(bos) }
        var text = text
        try text.withUTF8 { buf in
            out.reserveCapacity(out.count + buf.count / 3 + 4)
            var start = 0
            for (pos, len, id) in partition(buf, parseSpecial: parseSpecial) {
                if start < pos { try encodeOrdinary(UnsafeBufferPointer(rebasing: buf[start..<pos]), into: &out, cancelled: cancelled) }
                out.append(Int(id))
                start = pos + len
            }
            if start < buf.count { try encodeOrdinary(UnsafeBufferPointer(rebasing: buf[start...]), into: &out, cancelled: cancelled) }
        }
        return out
    }

    /// Occurrences (byte position, length, id) of special tokens, in text order. Longest tokens are
    /// placed first, each token left to right without overlapping what is already placed (as llama.cpp).
    private func partition(_ buf: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [(Int, Int, Int32)] {
        guard !specials.isEmpty, !buf.isEmpty else { return [] }
        // Positions of each byte that starts some special token.
        var wanted = [Bool](repeating: false, count: 256)
        for s in specials where parseSpecial || !s.control { wanted[Int(s.bytes[0])] = true }
        var positions: [UInt8: [Int]] = [:]
        for (i, b) in buf.enumerated() where wanted[Int(b)] { positions[b, default: []].append(i) }
        guard !positions.isEmpty else { return [] }
        var claimed: [Bool] = []
        var found: [(Int, Int, Int32)] = []
        for s in specials where parseSpecial || !s.control {
            guard let cands = positions[s.bytes[0]] else { continue }
            let len = s.bytes.count
            var nextFree = 0
            for p in cands where p >= nextFree && p + len <= buf.count {
                var match = true
                for k in 1..<max(1, len) where buf[p + k] != s.bytes[k] { match = false; break }
                guard match else { continue }
                if claimed.isEmpty { claimed = [Bool](repeating: false, count: buf.count) }
                var free = true
                for k in p..<(p + len) where claimed[k] { free = false; break }
                guard free else { continue }
                for k in p..<(p + len) { claimed[k] = true }
                found.append((p, len, s.id))
                nextFree = p + len
            }
        }
        found.sort { $0.0 < $1.0 }
        return found
    }

    /// Pre-tokenise and BPE-encode text that holds no special tokens.
    private func encodeOrdinary(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [Int], cancelled: () -> Bool) throws {
        if let spm = sentencePiece {
            if cancelled() { throw CancellationError() }
            spm.encode(bytes, lookup: { tokenToID[String(decoding: $0, as: UTF8.self)] }, into: &out)
            return
        }
        // Decode UTF-8 (valid: it comes from a String) into scalars with their byte offsets.
        let n = bytes.count
        var scalars: [UInt32] = []
        var offsets: [Int] = []
        scalars.reserveCapacity(n)
        offsets.reserveCapacity(n + 1)
        var i = 0
        while i < n {
            let b0 = UInt32(bytes[i])
            offsets.append(i)
            if b0 < 0x80 {
                scalars.append(b0); i += 1
            } else if b0 < 0xE0 {
                scalars.append((b0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F)); i += 2
            } else if b0 < 0xF0 {
                scalars.append((b0 & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F)); i += 3
            } else {
                scalars.append((b0 & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12
                               | UInt32(bytes[i + 2] & 0x3F) << 6 | UInt32(bytes[i + 3] & 0x3F)); i += 4
            }
        }
        offsets.append(n)
        let classes = scalars.map(PreTokenizer.charClass)
        var ends: [Int] = []
        ends.reserveCapacity(scalars.count / 3 + 1)
        PreTokenizer.boundaries(scalars, classes, 0, scalars.count, preTokenizer, into: &ends)
        var start = 0
        var local: [[UInt8]: [Int32]] = [:]
        defer { cache.merge(local) }
        for (n, e) in ends.enumerated() {
            if n & 1023 == 0, cancelled() { throw CancellationError() }
            try encodeWord(UnsafeBufferPointer(rebasing: bytes[offsets[start]..<offsets[e]]), local: &local, into: &out, cancelled: cancelled)
            start = e
        }
    }

    /// BPE of one pre-token, through the caches.
    private func encodeWord(_ w: UnsafeBufferPointer<UInt8>, local: inout [[UInt8]: [Int32]], into out: inout [Int], cancelled: () -> Bool) throws {
        if w.count == 1 {
            let id = byteTokens[Int(w[0])]
            if id >= 0 { out.append(Int(id)) }
            return
        }
        let key = Array(w)
        if ignoresMerges, let id = rawVocab[key] { out.append(Int(id)); return }
        if let hit = local[key] ?? cache.lookup(key) {
            for id in hit { out.append(Int(id)) }
            return
        }
        var ids = try bpe(w, cancelled: cancelled)
        if !missingByteTokens.isEmpty { ids.removeAll { $0 < 0 } }
        local[key] = ids
        for id in ids { out.append(Int(id)) }
    }

    /// Merge the bytes of one pre-token: repeatedly apply the lowest-ranked merge among adjacent
    /// pairs, the leftmost one on ties. Bytes without a token stay -1 and never merge.
    func bpe(_ w: UnsafeBufferPointer<UInt8>, cancelled: () -> Bool = { false }) throws -> [Int32] {
        var sym = w.map { byteTokens[Int($0)] }
        let none = UInt64.max
        // ranks[i] is the merge entry of (sym[i], sym[i+1]).
        var ranks = [UInt64](repeating: none, count: max(0, sym.count - 1))
        @inline(__always) func entry(_ a: Int32, _ b: Int32) -> UInt64 {
            guard a >= 0, b >= 0 else { return none }  // a byte without a token never merges
            return mergeTable[UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))] ?? none
        }
        for i in 0..<ranks.count { ranks[i] = entry(sym[i], sym[i + 1]) }
        var steps = 0
        while !ranks.isEmpty {
            // Each step scans every pair: a word of n bytes costs n^2, minutes for megabytes.
            steps += 1
            if steps & 255 == 0, cancelled() { throw CancellationError() }
            var best = 0
            var bestRank = ranks[0]
            for i in 1..<ranks.count where ranks[i] < bestRank { best = i; bestRank = ranks[i] }
            if bestRank == none { break }
            sym[best] = Int32(truncatingIfNeeded: bestRank & 0xFFFF_FFFF)
            sym.remove(at: best + 1)
            ranks.remove(at: best)
            if best > 0 { ranks[best - 1] = entry(sym[best - 1], sym[best]) }
            if best < ranks.count { ranks[best] = entry(sym[best], sym[best + 1]) }
        }
        return sym
    }
}

/// Shared word → tokens cache of a tokenizer (bounded; cleared when full).
final class WordCache: @unchecked Sendable {
    private let lock = NSLock()
    private var map: [[UInt8]: [Int32]] = [:]
    private let limit = 200_000

    func lookup(_ key: [UInt8]) -> [Int32]? {
        lock.lock(); defer { lock.unlock() }
        return map[key]
    }

    func merge(_ entries: [[UInt8]: [Int32]]) {
        guard !entries.isEmpty else { return }
        lock.lock(); defer { lock.unlock() }
        if map.count + entries.count > limit { map.removeAll(keepingCapacity: true) }
        map.merge(entries) { old, _ in old }
    }
}
