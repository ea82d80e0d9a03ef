import Foundation
import PCInference
import ProbeAnalysis

extension TokenLayout {
    /// Decodes a layout, naming what is wrong: not JSON, a missing or mistyped field.
    static func decode(_ data: Data, path: String) throws -> TokenLayout {
        do { return try JSONCoding.decode(TokenLayout.self, from: data) }
        catch { throw CLIError("--token-layout \(path) is not {\"chunks\": [[ids]], \"question\": [ids]}: \(ConfigFile.describe(error))") }
    }

    /// Refuses, before any work, a layout the model cannot run as the text path would: a chunk
    /// that with the question goes past the trained context (a 20,000-token chunk would run for
    /// minutes outside what the model was trained on), or ids outside the vocabulary.
    func check(contextLength: Int, vocabulary: Int, path: String) throws {
        guard !chunks.isEmpty, chunks.allSatisfy({ !$0.isEmpty }) else { throw CLIError("--token-layout \(path): every chunk needs at least one token") }
        guard !question.isEmpty else { throw CLIError("--token-layout \(path): the question is empty") }
        let bos = exact == true ? 0 : 1
        for (i, ch) in chunks.enumerated() {
            let need = ch.count + bos + question.count
            guard need <= contextLength else {
                throw CLIError("--token-layout \(path): chunk \(i) has \(ch.count) tokens; with the question that is \(need) positions, beyond the model's trained context of \(contextLength)")
            }
            if let bad = ch.first(where: { $0 < 0 || $0 >= vocabulary }) {
                throw CLIError("--token-layout \(path): chunk \(i) holds token id \(bad), outside the vocabulary 0..<\(vocabulary)")
            }
        }
        if let bad = question.first(where: { $0 < 0 || $0 >= vocabulary }) {
            throw CLIError("--token-layout \(path): the question holds token id \(bad), outside the vocabulary 0..<\(vocabulary)")
        }
    }
}
