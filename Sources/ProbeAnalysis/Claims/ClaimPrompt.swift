import Foundation
import PCInference

/// How the claims wrap chunks and questions: the official layout (raw text, no chat markup:
/// what menik1126/ParallelComp feeds LLaMA models) or the model's chat layout (a system prompt
/// and user turn copied into every chunk). Both are run so the template's effect is measured.
public enum ClaimPromptLayout: String, Codable, Sendable, CaseIterable {
    case official, chat
}

public enum ClaimPrompt {
    /// The format every claims run uses for `layout`: the pipeline's official layout with no
    /// words around the text (a chunk is `BOS` and its content, as cached) and a plain question,
    /// or its chat layout. Chunks are built as `format.leadIDs(tok) + content`.
    public static func format(_ tok: Tokenizer, _ layout: ClaimPromptLayout, answerPrefix: String = "") -> PromptFormat {
        switch layout {
        case .chat: return PromptFormat.forTokenizer(tok, layout: .chat, answerPrefix: answerPrefix)
        case .official:
            return PromptFormat(layout: .official, contextPrefix: "{context}",
                                questionTemplate: "\n\nQuestion: {input}\nAnswer:" + (answerPrefix.isEmpty ? "" : " " + answerPrefix))
        }
    }
}
