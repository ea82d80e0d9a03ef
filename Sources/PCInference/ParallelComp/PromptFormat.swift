/// How a chunk and the question are wrapped in text before tokenising.
///
/// Every chunk is `contextPrefix + chunk text`; the question is `questionTemplate` with
/// `{question}` replaced. The prefix's first token acts as the chunk's leading (sink) token.
public struct PromptFormat: Codable, Sendable, Equatable {
    public var contextPrefix: String
    public var questionTemplate: String

    public init(contextPrefix: String, questionTemplate: String) {
        self.contextPrefix = contextPrefix; self.questionTemplate = questionTemplate
    }

    /// A format matching the model's chat template, with an instruction before every chunk and an
    /// optional start of the answer (e.g. "The pass key is") after the assistant header.
    public static func forTokenizer(_ tok: Tokenizer, instruction: String = "", answerPrefix: String = "") -> PromptFormat {
        let inst = instruction.isEmpty ? "" : instruction + "\n\n"
        switch tok.chatTemplate {
        case .chatml?:
            return PromptFormat(
                contextPrefix: "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\n" + inst,
                questionTemplate: "\n\n{question}<|im_end|>\n<|im_start|>assistant\n" + answerPrefix)
        case .llama3?:
            return PromptFormat(
                contextPrefix: "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n" + inst,
                questionTemplate: "\n\n{question}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n" + answerPrefix)
        case nil:
            return PromptFormat(contextPrefix: inst, questionTemplate: "\n\nQuestion: {question}\nAnswer:" + (answerPrefix.isEmpty ? "" : " " + answerPrefix))
        }
    }

    /// Token ids of the chunk prefix (special tokens parsed; BOS added when the model wants one).
    /// A template that writes the BOS itself (Llama 3's `<|begin_of_text|>`), encoded by a
    /// tokenizer that also adds one (`add_bos_token`), would start every chunk with two, and
    /// combining drops only one: every chunk would keep a sink. One is kept.
    public func prefixIDs(_ tok: Tokenizer) -> [Int] {
        var ids = tok.encode(contextPrefix, parseSpecial: true, addBOS: nil)
        if ids.count >= 2, let b = tok.bosID, ids[0] == b, ids[1] == b { ids.removeFirst() }
        return ids
    }

    /// Token ids of the question: the template's text is parsed for special tokens, the user's
    /// question is not (so a question cannot inject control tokens).
    public func questionIDs(_ tok: Tokenizer, question: String) -> [Int] {
        let parts = questionTemplate.components(separatedBy: "{question}")
        var ids: [Int] = []
        for (i, p) in parts.enumerated() {
            if i > 0 { ids += tok.encode(question, parseSpecial: false, addBOS: false) }
            if !p.isEmpty { ids += tok.encode(p, parseSpecial: true, addBOS: false) }
        }
        return ids
    }
}

import Foundation
