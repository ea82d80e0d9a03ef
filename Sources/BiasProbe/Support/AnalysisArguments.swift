import ArgumentParser
import ProbeAnalysis

// The analysis library's values that options take; each type parses its own text
// (`init?(argument:)`), the command line only adds ArgumentParser's conformance.
extension ClaimPromptLayout: ExpressibleByArgument {}
extension ClaimSize: ExpressibleByArgument {}
extension Shard: ExpressibleByArgument {}
extension SweepMetric: ExpressibleByArgument {}

/// A sweep grid that does not parse is a usage error, as if ArgumentParser had rejected the option.
func usage<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as SweepGridError { throw ValidationError(e.text(\.commandLineText)) }
}
