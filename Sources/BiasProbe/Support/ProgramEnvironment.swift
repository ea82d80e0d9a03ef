import Foundation
import PCInference
import ProbeAnalysis

/// The environment variables that set the libraries' defaults (the libraries read none):
/// BIASPROBE_CACHE, the folder of models and essays; BIASPROBE_DECODE_PATH, the arithmetic of
/// one-row passes (float, int8 or sgemm; anything else means float); and
/// BIASPROBE_TRACE_CHECK_SECONDS, the base time a trace check in a child process may take (tests
/// use a short one). Read before every command, so commands the tests run in-process see the
/// environment as a new process would. (SLURM_ARRAY_* are read by `Shard.fromEnvironment()`
/// below, BIASPROBE_CLAIMS_TIMING by `claims run`.)
enum ProgramEnvironment {
    static func apply(_ env: [String: String] = ProcessInfo.processInfo.environment) {
        DefaultCorpus.cacheDir = env["BIASPROBE_CACHE"] ?? DefaultCorpus.standardCacheDir
        DecodePath.standard = env["BIASPROBE_DECODE_PATH"].flatMap(DecodePath.init(rawValue:)) ?? .float
        TraceReader.childCheckSeconds = env["BIASPROBE_TRACE_CHECK_SECONDS"].flatMap(Double.init) ?? 30
    }
}

extension Shard {
    /// The shard of the Slurm array task this process runs in, if any (no --shard given).
    static func fromEnvironment() throws -> Shard? { try fromEnvironment(ProcessInfo.processInfo.environment) }
}
