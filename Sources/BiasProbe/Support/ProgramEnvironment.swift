import Foundation
import PCInference

/// The environment variables that set the libraries' defaults (the libraries read none):
/// BIASPROBE_CACHE, the folder of models and essays, and BIASPROBE_DECODE_PATH, the arithmetic
/// of one-row passes (float, int8 or sgemm; anything else means float). Read before every
/// command, so commands the tests run in-process see the environment as a new process would.
enum ProgramEnvironment {
    static func apply(_ env: [String: String] = ProcessInfo.processInfo.environment) {
        DefaultCorpus.cacheDir = env["BIASPROBE_CACHE"] ?? DefaultCorpus.standardCacheDir
        DecodePath.standard = env["BIASPROBE_DECODE_PATH"].flatMap(DecodePath.init(rawValue:)) ?? .float
    }
}
