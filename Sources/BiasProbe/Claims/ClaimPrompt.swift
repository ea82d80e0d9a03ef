import ArgumentParser
import Foundation
import PCInference

/// How the claims wrap chunks and questions: the official layout (raw text, no chat markup:
/// what menik1126/ParallelComp feeds LLaMA models) or the model's chat layout (a system prompt
/// and user turn copied into every chunk). Both are run so the template's effect is measured.
public enum ClaimPromptLayout: String, Codable, Sendable, CaseIterable, ExpressibleByArgument {
    case official, chat
}

public enum ClaimPrompt {
    /// The format every claims run uses for `layout`.
    ///
    /// TODO(issue 25): the pipeline is gaining the official layout as its default and a config
    /// field selecting the layout; once merged, take the format from that field here (the only
    /// place the claims choose a layout) instead of building the official one locally.
    public static func format(_ tok: Tokenizer, _ layout: ClaimPromptLayout, answerPrefix: String = "") -> PromptFormat {
        switch layout {
        case .chat: return PromptFormat.forTokenizer(tok, answerPrefix: answerPrefix)
        case .official:
            return PromptFormat(contextPrefix: "", questionTemplate: "\n\nQuestion: {question}\nAnswer:" + (answerPrefix.isEmpty ? "" : " " + answerPrefix))
        }
    }
}
