extension Tokenizer {
    /// Tokens that end a reply: EOS, EOT and the chat formats' end-of-turn markers when present.
    public var stopTokenIDs: Set<Int> {
        var s = Set([eosID, eotID].compactMap { $0 })
        for p in ["<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>"] { if let id = tokenID(for: p) { s.insert(id) } }
        return s
    }
}
