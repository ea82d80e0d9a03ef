import PCInference

/// The ranges every pipeline setting must be in, checked the same way whether the value came
/// from a flag, a --config file or a sweep axis. Each message names the config field, the flag,
/// what is expected and the value given.
enum ConfigCheck {
    static func validate(_ c: ParallelCompConfig) throws {
        func fail(_ field: String, _ flag: String, _ expected: String, _ value: Any) -> CLIError {
            CLIError("\(field) (\(flag)) must be \(expected), got \(value)")
        }
        if let t = c.chunkTokens, t < 32 { throw fail("chunkTokens", "--chunk-tokens", "an integer of at least 32", t) }
        if c.keepChunks < 1 { throw fail("keepChunks", "--keep-chunks", "an integer of at least 1", c.keepChunks) }
        if c.scoreTokens < 0 { throw fail("scoreTokens", "--score-tokens", "0 (all) or a positive integer", c.scoreTokens) }
        if c.batchChunks < 1 { throw fail("batchChunks", "--batch-chunks", "an integer of at least 1", c.batchChunks) }
        if !(c.lambda.isFinite && c.lambda > 0 && c.lambda < 1) { throw fail("lambda", "--lambda", "a number between 0 and 1 (exclusive)", c.lambda) }
        // 0 is allowed: it means every question row (the official RECENT_TOKENS=0).
        if c.calibrationRows < 0 { throw fail("calibrationRows", "--calibration-rows", "an integer of at least 0", c.calibrationRows) }
        if c.bandWidth < 1 { throw fail("bandWidth", "--band-width", "an integer of at least 1", c.bandWidth) }
        if c.maxNewTokens < 1 { throw fail("maxNewTokens", "--max-tokens", "an integer of at least 1", c.maxNewTokens) }
        try sampling(c.sampling)
        if let s = c.compression {
            if s.capacity < 1 { throw fail("compression.capacity", "--capacity", "an integer of at least 1", s.capacity) }
            if s.window < 1 { throw fail("compression.window", "--window", "an integer of at least 1", s.window) }
            if s.kernel < 1 || s.kernel % 2 == 0 { throw fail("compression.kernel", "--kernel", "a positive odd integer", s.kernel) }
        }
        if let lab = c.evictionLab {
            if let r = lab.ratio, !r.isFinite { throw fail("evictionLab.ratio", "--ratio", "a number in (0, 1]", r) }
            do { try lab.check() } catch { throw CLIError("evictionLab (--policy): \(error.commandLineText)") }
        }
    }

    static func sampling(_ s: SamplingSettings) throws {
        if !(s.temperature.isFinite && s.temperature >= 0) {
            throw CLIError("sampling.temperature (--temperature) must be a finite number of at least 0 (0 = greedy), got \(s.temperature)")
        }
        if !(s.topP.isFinite && s.topP > 0 && s.topP <= 1) {
            throw CLIError("sampling.topP (--top-p) must be a number in (0, 1], got \(s.topP)")
        }
    }
}
