import Foundation

/// Short names for the models `scripts/setup.sh` fetches, so `--model gemma3` works beside `--model PATH`.
public enum KnownModels {
    /// Short name → file name in the cache folder (kept in step with scripts/setup.sh).
    public static let files: [String: String] = [
        "smollm2": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "gemma3": "gemma-3-270m-q4_k_m.gguf",
    ]

    public static func path(ofShortName name: String) -> String? {
        files[name.lowercased()].map { DefaultCorpus.cacheDir + "/" + $0 }
    }

    /// The short name of a model file setup.sh fetches, by its file name.
    public static func shortName(ofFile file: String) -> String? {
        files.first { $0.value == file }?.key
    }

    /// A `--model` value: a known short name, else a path as given. A file that exists under the
    /// short name's spelling wins, so a local file called `gemma3` is still reachable.
    public static func resolve(_ value: String) -> String {
        if FileManager.default.fileExists(atPath: value) { return value }
        return path(ofShortName: value) ?? value
    }
}
