/// The pre-tokenisers biasprobe knows, named as in `tokenizer.ggml.pre`.
public enum PreTokenizerKind: String, Sendable, CaseIterable {
    /// The GPT-2 regex `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2
    /// Every `\p{N}` character isolated first, then the GPT-2 regex on each remaining piece (SmolLM, StarCoder).
    case smollm
    /// The Llama-3 regex `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    case llamaBPE = "llama-bpe"
    /// The Llama-3 regex with single digits (`\p{N}` instead of `\p{N}{1,3}`).
    case qwen2

    /// The kind for a `tokenizer.ggml.pre` value; nil for names biasprobe does not implement.
    /// `default` (what llama.cpp assumes when the key is missing) is the plain GPT-2 regex.
    public init?(ggufName: String) {
        switch ggufName {
        case "default", "gpt2", "gpt-2": self = .gpt2
        case "smollm": self = .smollm
        case "llama-bpe", "llama3", "llama-v3": self = .llamaBPE
        case "qwen2": self = .qwen2
        default: return nil
        }
    }
}

/// Hand-written scanners equivalent to the pre-tokeniser regexes, over Unicode scalars.
///
/// `\s` is the Unicode White_Space property, `\p{L}` the general categories Lu/Ll/Lt/Lm/Lo and
/// `\p{N}` Nd/Nl/No, as in llama.cpp and HF `tokenizers`. Every alternative list ends in `\s+`, so
/// the pieces always cover the whole text.
public enum PreTokenizer {
    /// Split `text` into pre-tokens. Concatenating the result gives back `text` scalar for scalar.
    public static func split(_ text: String, kind: PreTokenizerKind) -> [String] {
        let scalars = text.unicodeScalars.map(\.value)
        let classes = scalars.map(charClass)
        var ends: [Int] = []
        boundaries(scalars, classes, 0, scalars.count, kind, into: &ends)
        var out: [String] = []
        out.reserveCapacity(ends.count)
        var start = 0
        for e in ends {
            var v = String.UnicodeScalarView()
            for i in start..<e { v.append(Unicode.Scalar(scalars[i])!) }
            out.append(String(v))
            start = e
        }
        return out
    }

    // MARK: character classes

    static let other: UInt8 = 0, letter: UInt8 = 1, number: UInt8 = 2, space: UInt8 = 3

    /// Classes of the Basic Multilingual Plane, computed once.
    static let bmpClasses: [UInt8] = (0..<0x10000).map { slowClass(UInt32($0)) }

    @inline(__always) static func charClass(_ v: UInt32) -> UInt8 {
        v < 0x10000 ? bmpClasses[Int(v)] : slowClass(v)
    }

    static func slowClass(_ v: UInt32) -> UInt8 {
        guard let s = Unicode.Scalar(v) else { return other }
        let p = s.properties
        if p.isWhitespace { return space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return letter
        case .decimalNumber, .letterNumber, .otherNumber: return number
        default: return other
        }
    }

    // MARK: scanners

    /// Append to `ends` the end index of every pre-token of `s[lo..<hi]`.
    static func boundaries(_ s: [UInt32], _ c: [UInt8], _ lo: Int, _ hi: Int, _ kind: PreTokenizerKind, into ends: inout [Int]) {
        switch kind {
        case .gpt2:
            gpt2(s, c, lo, hi, into: &ends)
        case .smollm:
            // Isolate every \p{N}; the GPT-2 regex then runs on each stretch between them, with
            // look-ahead stopping at the stretch's end.
            var start = lo
            for i in lo..<hi where c[i] == number {
                if start < i { gpt2(s, c, start, i, into: &ends) }
                ends.append(i + 1)
                start = i + 1
            }
            if start < hi { gpt2(s, c, start, hi, into: &ends) }
        case .llamaBPE:
            llama3(s, c, lo, hi, maxDigits: 3, into: &ends)
        case .qwen2:
            llama3(s, c, lo, hi, maxDigits: 1, into: &ends)
        }
    }

    @inline(__always) static func isNewline(_ v: UInt32) -> Bool { v == 0x0A || v == 0x0D }

    /// Length of a contraction `'s 't 're 've 'm 'll 'd` at i (0 if none). `fold` makes it ASCII case-insensitive.
    @inline(__always) static func contraction(_ s: [UInt32], _ i: Int, _ hi: Int, fold: Bool) -> Int {
        guard s[i] == 0x27, i + 1 < hi else { return 0 }
        func low(_ v: UInt32) -> UInt32 { fold && v >= 0x41 && v <= 0x5A ? v + 0x20 : v }
        let a = low(s[i + 1])
        if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 { return 2 } // s t m d
        guard i + 2 < hi else { return 0 }
        let b = low(s[i + 2])
        if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { return 3 } // re ve ll
        return 0
    }

    /// End of the whitespace part matched by `\s+(?!\S)|\s+` at i (s[i] is whitespace).
    @inline(__always) static func whitespaceEnd(_ c: [UInt8], _ i: Int, _ hi: Int) -> Int {
        var j = i + 1
        while j < hi && c[j] == space { j += 1 }
        // At the end of the text the whole run matches; before a non-space, `\s+(?!\S)` gives back
        // the last whitespace character (to prefix the next word) unless the run is a single character,
        // which `\s+` then takes alone.
        if j == hi || j - i == 1 { return j }
        return j - 1
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    static func gpt2(_ s: [UInt32], _ c: [UInt8], _ lo: Int, _ hi: Int, into ends: inout [Int]) {
        var i = lo
        while i < hi {
            let k = contraction(s, i, hi, fold: false)
            if k > 0 { i += k; ends.append(i); continue }
            // ` ?X+` for X in letters, numbers, others: an optional U+0020 then a run of one class.
            var start = i
            if s[i] == 0x20 && i + 1 < hi && c[i + 1] != space { start = i + 1 }
            let cls = c[start]
            if cls != space {
                var j = start + 1
                while j < hi && c[j] == cls { j += 1 }
                ends.append(j); i = j; continue
            }
            i = whitespaceEnd(c, i, hi)
            ends.append(i)
        }
    }

    /// The Llama-3 regex (`maxDigits` 3) and its Qwen2 variant (`maxDigits` 1).
    static func llama3(_ s: [UInt32], _ c: [UInt8], _ lo: Int, _ hi: Int, maxDigits: Int, into ends: inout [Int]) {
        var i = lo
        while i < hi {
            let k = contraction(s, i, hi, fold: true)
            if k > 0 { i += k; ends.append(i); continue }
            let ci = c[i]
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if ci == letter || (ci != number && !isNewline(s[i]) && i + 1 < hi && c[i + 1] == letter) {
                var j = i + 1
                while j < hi && c[j] == letter { j += 1 }
                ends.append(j); i = j; continue
            }
            // \p{N}{1,maxDigits}
            if ci == number {
                var j = i + 1
                while j < hi && j - i < maxDigits && c[j] == number { j += 1 }
                ends.append(j); i = j; continue
            }
            //  ?[^\s\p{L}\p{N}]+[\r\n]*
            var start = i
            if s[i] == 0x20 && i + 1 < hi && c[i + 1] == other { start = i + 1 }
            if c[start] == other {
                var j = start + 1
                while j < hi && c[j] == other { j += 1 }
                while j < hi && isNewline(s[j]) { j += 1 }
                ends.append(j); i = j; continue
            }
            // s[i] is whitespace. \s*[\r\n]+ : through the last newline of the whitespace run.
            var j = i
            var lastNewline = -1
            while j < hi && c[j] == space {
                if isNewline(s[j]) { lastNewline = j }
                j += 1
            }
            if lastNewline >= 0 {
                i = lastNewline + 1
            } else {
                i = whitespaceEnd(c, i, hi)
            }
            ends.append(i)
        }
    }
}
