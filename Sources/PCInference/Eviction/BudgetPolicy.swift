/// The eviction lab's policies (kvpress's "presses"): each keeps a fixed number of keys per head,
/// ranked by what it reads about every key. The pipeline reads that signal into
/// `EvictionInput.scores`, protects the first `sink` and last `recent` candidates, and asks the
/// policy to rank the rest; `EvictionRule.keepTop` selects and `KVCache.evict` masks, as for
/// every other policy.

/// What a budgeted policy reads about each key (filled into `EvictionInput.scores`).
public enum KeySignal: Sendable, Equatable {
    /// Nothing but positions (StreamingLLM, the random baseline): scores are zero.
    case none
    /// Attention summed over the pass's last `lastRows` question rows (nil: over every row of the
    /// pass, context rows included, as H2O accumulates it).
    case attention(lastRows: Int?)
    /// Each key's L2 norm (the keys are stored after RoPE, a rotation, so the norm is RoPE's too).
    case keyNorm
    /// ExpectedAttention's scores (`ExpectedAttention.scores`): the moments of the pass's context
    /// queries after its first `sink` rows, rotated `futurePositions` ahead, against every key.
    case expectedAttention(sink: Int, futurePositions: Int)
}

/// A policy that keeps the `keep` best-ranked candidates of every head.
public protocol BudgetedPolicy: EvictionPolicy {
    var signal: KeySignal { get }
    var keep: Int { get }
}

public extension BudgetedPolicy {
    var rule: EvictionRule { .keepTop(keep) }
}

/// Per head: each candidate's score as `input.scores` holds it (0 past its end).
func candidateScores(_ input: EvictionInput) -> [[Float]] {
    input.candidates.enumerated().map { h, cand in cand.map { $0.key < input.scores[h].count ? input.scores[h][$0.key] : 0 } }
}
