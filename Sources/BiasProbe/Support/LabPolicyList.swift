import ArgumentParser
import PCInference
import ProbeAnalysis

/// A `--policies` list of lab policies: parsed by name before any model is loaded, then fitted
/// to the model. Policies that cannot run on it (ExpectedAttention on a QK-norm model) are an
/// error when the user named them, and left out of the default list with one line on stderr.
struct LabPolicyList {
    static let defaultText = "streaming,h2o,tova,snapkv,pyramidkv,knorm,random,expected-attention"
    let kinds: [EvictionLabSettings.Kind]
    let isDefault: Bool

    init(_ text: String?, option: String = "--policies") throws {
        isDefault = text == nil
        kinds = try (text ?? Self.defaultText).split(separator: ",").map { n in
            guard let k = EvictionLabSettings.Kind(rawValue: String(n)) else {
                throw ValidationError("\(option): '\(n)' is not one of \(EvictionLabSettings.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return k
        }
    }

    /// The kinds to run on a model of `config`.
    func fitted(to config: ModelConfig, option: String = "--policies") throws -> [EvictionLabSettings.Kind] {
        let (ok, left) = EvictionLabSettings.runnable(kinds, model: config)
        guard !left.isEmpty else { return kinds }
        if !isDefault {
            throw ValidationError(SettingError.qkNormText(model: config.name, architecture: config.architecture, option: option))
        }
        Log.info("note: \(left.map(\.rawValue).joined(separator: ", ")) left out of the default policies for \(config.name) (\(config.architecture)): QK-norm model, which kvpress's ExpectedAttention refuses")
        return ok
    }
}
