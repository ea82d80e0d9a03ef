/// The program a command's child processes run (`check-trace`, claim workers, Slurm scripts):
/// this executable, or the built binary when tests run commands in-process (their own
/// executable is the test runner). Its own file, so the trace reader (compiled alone into the
/// fuzz target) can read it without the command line.
public enum SelfExecutable {
    nonisolated(unsafe) public static var path = "/proc/self/exe"
}
