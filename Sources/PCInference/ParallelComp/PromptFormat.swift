/// How a chunk and the question are wrapped in text before tokenising.
///
/// Two layouts (docs/parallelcomp.md, "Prompts"):
/// - `official` (default): the official code's raw dataset templates, no chat markup. A chunk is
///   `contextTemplate` with `{context}` replaced by the chunk's text, the question is
///   `questionTemplate` with `{input}` replaced; each formatted string is tokenised once, and the
///   pipeline puts BOS in front of both.
/// - `chat`: the model's chat turn around every chunk (`contextPrefix + text`) and the question
///   (`questionTemplate` with `{question}`), prefix and text tokenised apart.
public struct PromptFormat: Codable, Sendable, Equatable {
    public enum Layout: String, Codable, Sendable, CaseIterable {
        case official, chat
    }
    /// The official code's dataset templates (its `dataset2prompt_context.json` and
    /// `dataset2prompt_quesiton.json`).
    public enum Template: String, Codable, Sendable, CaseIterable {
        /// InfiniteBench `passkey`.
        case passkey
        /// LongBench `multifieldqa_en`: a short answer to a question about a text.
        case qa
        /// No words around the text or the question.
        case raw
        /// RULER's: the example's instruction (ending in its own separator) before the text, a
        /// newline after it, the question and the answer prefix (which starts with its space).
        case ruler

        var context: String {
            switch self {
            case .passkey: return "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will quiz you about the important information there.\n\n{context}"
            case .qa: return "Read the following text and answer briefly.\n\n{context}"
            case .raw, .ruler: return "{context}"
            }
        }
        var question: String {
            switch self {
            case .passkey: return "\nNow please answer: {input}\nPlease tell me the number: "
            case .qa: return "\n\nNow, answer the following question based on the above text, only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:"
            case .raw, .ruler: return "{input}"
            }
        }
    }

    public var layout: Layout
    /// Chat layout: text before every chunk's content. Official layout: the context template.
    public var contextPrefix: String
    /// Chat layout: `{question}` marks the question. Official layout: `{input}` does.
    public var questionTemplate: String

    public init(layout: Layout = .chat, contextPrefix: String, questionTemplate: String) {
        self.layout = layout; self.contextPrefix = contextPrefix; self.questionTemplate = questionTemplate
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        layout = try c.decodeIfPresent(Layout.self, forKey: .layout) ?? .chat   // formats written before the layouts existed
        contextPrefix = try c.decode(String.self, forKey: .contextPrefix)
        questionTemplate = try c.decode(String.self, forKey: .questionTemplate)
    }

    /// The official layout with a dataset template; an instruction replaces the template's own
    /// words before the text, an answer prefix goes after the question template.
    public static func official(_ template: Template, instruction: String = "", answerPrefix: String = "") -> PromptFormat {
        if template == .ruler {
            return PromptFormat(layout: .official, contextPrefix: instruction + "{context}\n", questionTemplate: "{input}" + answerPrefix)
        }
        let gap = answerPrefix.isEmpty || template.question.hasSuffix(" ") || template.question.hasSuffix("\n") ? "" : " "
        return PromptFormat(layout: .official,
                            contextPrefix: instruction.isEmpty ? template.context : instruction + "\n\n{context}",
                            questionTemplate: template.question + gap + answerPrefix)
    }

    /// The format of a task's example: the official layout uses the task's dataset template (the
    /// pass key's own words, no answer prefix; other tasks the QA template with their
    /// instruction and answer prefix), the chat layout the example's instruction and prefix.
    public static func forExample(_ tok: Tokenizer, layout: Layout, template: Template?, instruction: String, answerPrefix: String) -> PromptFormat {
        if layout == .official, template == .ruler { return official(.ruler, instruction: instruction, answerPrefix: answerPrefix) }
        if layout == .official, let template { return official(template) }
        return forTokenizer(tok, layout: layout, template: .qa, instruction: instruction, answerPrefix: answerPrefix)
    }

    /// A format for `layout`: the official template, or one matching the model's chat template,
    /// with an instruction before every chunk and an optional start of the answer (e.g. "The pass
    /// key is") after the assistant header.
    public static func forTokenizer(_ tok: Tokenizer, layout: Layout = .official, template: Template = .qa,
                                    instruction: String = "", answerPrefix: String = "") -> PromptFormat {
        if layout == .official { return official(template, instruction: instruction, answerPrefix: answerPrefix) }
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

    /// The token the official code writes as BOS: the tokenizer's, or for a model without one
    /// (SmolLM2) the leading special token of its chat turn (`<|im_start|>`).
    public static func bosID(_ tok: Tokenizer) -> Int? {
        tok.bosID ?? forTokenizer(tok, layout: .chat).prefixIDs(tok).first
    }

    /// Official layout: the context template's text before and after `{context}`.
    var contextParts: (before: String, after: String) {
        let p = contextPrefix.components(separatedBy: "{context}")
        return (p[0], p.count > 1 ? p[1...].joined(separator: "{context}") : "")
    }

    /// A chunk's text as the official code formats it.
    public func formatContext(_ text: String) -> String {
        let p = contextParts
        return p.before + text + p.after
    }

    /// The question as the official code formats it.
    public func formatQuestion(_ question: String) -> String {
        questionTemplate.replacingOccurrences(of: "{input}", with: question)
    }

    /// Token ids every chunk starts with, before its content (BOS not included in the official
    /// layout, where the pipeline adds it). Chat layout: the prefix, special tokens parsed, BOS
    /// added when the model wants one. A template that writes the BOS itself (Llama 3's
    /// `<|begin_of_text|>`), encoded by a tokenizer that also adds one (`add_bos_token`), would
    /// start every chunk with two, and combining drops only one: every chunk would keep a sink.
    /// One is kept.
    public func prefixIDs(_ tok: Tokenizer) -> [Int] {
        if layout == .official { return tok.encode(contextParts.before, parseSpecial: true, addBOS: false) }
        var ids = tok.encode(contextPrefix, parseSpecial: true, addBOS: nil)
        if ids.count >= 2, let b = tok.bosID, ids[0] == b, ids[1] == b { ids.removeFirst() }
        return ids
    }

    /// Every token a chunk starts with before its content, as prefilled: BOS and the template's
    /// words (official layout), or the chat prefix (which starts with the model's leading token).
    public func leadIDs(_ tok: Tokenizer) -> [Int] {
        (layout == .official ? (Self.bosID(tok).map { [$0] } ?? []) : []) + prefixIDs(tok)
    }

    /// Official layout: token ids after a chunk's content (the template's text after `{context}`),
    /// for the token and sentence splits, which cut the document's tokens and cannot tokenise each
    /// chunk's string once.
    public func suffixIDs(_ tok: Tokenizer) -> [Int] {
        layout == .official ? tok.encode(contextParts.after, parseSpecial: true, addBOS: false) : []
    }

    /// Token ids of the question, without BOS. Official layout: the formatted string tokenised
    /// once, as the official code does. Chat layout: the template's text is parsed for special
    /// tokens, the user's question is not (so a question cannot inject control tokens).
    public func questionIDs(_ tok: Tokenizer, question: String) -> [Int] {
        if layout == .official { return tok.encode(formatQuestion(question), parseSpecial: true, addBOS: false) }
        let parts = questionTemplate.components(separatedBy: "{question}")
        var ids: [Int] = []
        for (i, p) in parts.enumerated() {
            if i > 0 { ids += tok.encode(question, parseSpecial: false, addBOS: false) }
            if !p.isEmpty { ids += tok.encode(p, parseSpecial: true, addBOS: false) }
        }
        return ids
    }
}
