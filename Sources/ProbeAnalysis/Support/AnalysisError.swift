/// A failure the user can act on, as one line naming the file or setting and what is wrong
/// (the command line prints it as `Error: ...` and exits non-zero).
public struct AnalysisError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
