import Foundation

/// One chat message.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: "system", content: content) }
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: "user", content: content) }
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: "assistant", content: content) }
}

/// Chat prompt formats, written as code instead of interpreting the GGUF's Jinja template.
public enum ChatTemplate: String, Sendable, CaseIterable {
    /// `<|im_start|>role\ncontent<|im_end|>\n` per message; generation prompt `<|im_start|>assistant\n`.
    case chatml
    /// `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>` per message (content trimmed);
    /// generation prompt `<|start_header_id|>assistant<|end_header_id|>\n\n`. `<|begin_of_text|>` is not
    /// written: it is the BOS token, which `encode` adds (Llama-3 GGUFs have `add_bos_token`).
    case llama3

    /// SmolLM2's default system prompt, which its template inserts when the chat has no system message.
    public static let smolLMDefaultSystemPrompt = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

    /// Render with the default system prompt of SmolLM2 for `chatml` (the biasprobe default model)
    /// and none for `llama3`.
    public func render(messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        render(messages: messages, addGenerationPrompt: addGenerationPrompt,
               defaultSystemPrompt: self == .chatml ? ChatTemplate.smolLMDefaultSystemPrompt : nil)
    }

    /// Render a chat. `defaultSystemPrompt` is inserted as a first system message when the chat is not
    /// empty and does not start with one.
    public func render(messages: [ChatMessage], addGenerationPrompt: Bool, defaultSystemPrompt: String?) -> String {
        var all = messages
        if let sys = defaultSystemPrompt, let first = messages.first, first.role != "system" {
            all.insert(.system(sys), at: 0)
        }
        var out = ""
        switch self {
        case .chatml:
            for m in all { out += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        case .llama3:
            for m in all {
                let content = m.content.trimmingCharacters(in: .whitespacesAndNewlines)
                out += "<|start_header_id|>\(m.role)<|end_header_id|>\n\n\(content)<|eot_id|>"
            }
            if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        }
        return out
    }

    /// The format a `tokenizer.chat_template` text uses, recognised by its marker tokens.
    public static func detect(_ template: String) -> ChatTemplate? {
        if template.contains("<|im_start|>") { return .chatml }
        if template.contains("<|start_header_id|>") { return .llama3 }
        return nil
    }

    /// A default system prompt written literally in a ChatML template
    /// (`'<|im_start|>system\n…<|im_end|>'`), or nil.
    public static func defaultSystemPrompt(in template: String) -> String? {
        let marker = "<|im_start|>system"
        var rest = template[...]
        while let r = rest.range(of: marker) {
            rest = rest[r.upperBound...]
            var body = rest
            if body.hasPrefix("\n") { body = body.dropFirst() }
            else if body.hasPrefix("\\n") { body = body.dropFirst(2) }
            else { continue }
            guard let end = body.range(of: "<|im_end|>") else { continue }
            let text = body[..<end.lowerBound]
            // Only a literal: no Jinja expression, quote or concatenation inside.
            if !text.isEmpty && !text.contains(where: { "{}'\"+".contains($0) }) { return String(text) }
        }
        return nil
    }
}

extension Tokenizer {
    /// The chat format of the GGUF's `tokenizer.chat_template`, if it is one biasprobe knows.
    public var chatTemplate: ChatTemplate? { chatTemplateText.flatMap(ChatTemplate.detect) }

    /// The default system prompt written in the GGUF's chat template, if any.
    public var defaultSystemPrompt: String? { chatTemplateText.flatMap(ChatTemplate.defaultSystemPrompt(in:)) }

    /// Render a chat the way the GGUF's template does (nil when the template is missing or unknown).
    public func renderChat(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String? {
        guard let t = chatTemplate else { return nil }
        return t.render(messages: messages, addGenerationPrompt: addGenerationPrompt, defaultSystemPrompt: defaultSystemPrompt)
    }
}
