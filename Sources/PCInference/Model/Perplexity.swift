import Foundation

/// Mean negative log-likelihood of a token sequence under the model.
public enum Perplexity {
    /// Scores every token after the first. Texts longer than `window` are scored in overlapping
    /// windows (stride window/2) so every prediction sees at least half a window of context.
    public static func meanNLL(model: LlamaModel, tokens: [Int], window: Int? = nil,
                               progress: ((Int, Int) -> Void)? = nil) throws -> Double {
        guard tokens.count >= 2 else { throw ModelError("need at least 2 tokens to score, got \(tokens.count)") }
        let w = min(window ?? model.config.contextLength, tokens.count)
        let stride = max(1, w / 2)
        var total = 0.0, n = 0
        var scoredUpTo = 0          // tokens[0...scoredUpTo] are already predicted
        var start = 0
        while scoredUpTo < tokens.count - 1 {
            let end = min(start + w, tokens.count)
            let piece = Array(tokens[start..<end])
            // Rows r predict piece[r+1]; only those not scored before.
            let firstRow = scoredUpTo - start
            let rows = Array(firstRow..<(piece.count - 1))
            let hidden = try model.forwardHidden(tokens: piece, positions: Array(0..<piece.count), cache: model.makeCache(), hiddenRows: rows)
            let D = model.config.embeddingLength, V = model.config.vocabSize
            var b = 0
            while b < rows.count {
                let nb = min(256, rows.count - b)
                let logits = hidden.withUnsafeBufferPointer { model.logits(hidden: $0.baseAddress! + b * D, rows: nb) }
                for i in 0..<nb {
                    let target = piece[rows[b + i] + 1]
                    total += logSoftmax(logits[(i * V)..<((i + 1) * V)], target)
                    n += 1
                }
                b += nb
            }
            scoredUpTo = end - 1
            progress?(scoredUpTo, tokens.count - 1)
            start += stride
            if end == tokens.count { break }
        }
        return total / Double(n)
    }

    /// -log softmax(row)[target], in float64.
    public static func logSoftmax(_ row: ArraySlice<Float>, _ target: Int) -> Double {
        let m = Double(row.max()!)
        var z = 0.0
        for v in row { z += exp(Double(v) - m) }
        return -(Double(row[row.startIndex + target]) - m - log(z))
    }
}
