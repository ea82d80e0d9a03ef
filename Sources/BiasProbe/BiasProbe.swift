@preconcurrency import Glibc
import ArgumentParser
import Foundation
import PCInference
import ProbeAnalysis

@main
struct BiasProbe: ParsableCommand {
    static let version = "0.1.0"
    static let configuration = CommandConfiguration(
        commandName: "biasprobe",
        abstract: "Watch every attention head of a LLaMA-family model while it reads long context with ParallelComp.",
        discussion: """
        biasprobe runs a GGUF model on the CPU (OpenBLAS), measures where each head's attention goes \
        (sink, middle and recent bands of every chunk, positional profiles, entropy, outliers) and \
        writes HDF5 traces and PNG figures. The default model is SmolLM2-135M-Instruct (scripts/setup.sh \
        fetches it); --model or BIASPROBE_MODEL choose another GGUF.
        """,
        version: version,
        subcommands: [Info.self, Tokenize.self, Generate.self, Ppl.self, Logits.self, Bench.self, Run.self, Eval.self, Lab.self,
                      Trace.self, Inspect.self, Plot.self, Claims.self, Sweep.self, Merge.self, Slurm.self, CheckTrace.self])

    static func main() {
        // Must happen before anything else: OpenBLAS picks its kernel when the library loads.
        BLASStartup.ensureBestKernel()
        Signals.install()
        // One --json line per finished example: line-buffer stdout even into a file or pipe, so a
        // run that is interrupted or killed keeps every line it printed (and tail -f shows them).
        setvbuf(stdout, nil, _IOLBF, 0)
        Foundation.exit(CommandLineEntry.run(Array(CommandLine.arguments.dropFirst())))
    }
}

/// One command line, parsed and run as `main` runs it, returning the exit status instead of
/// exiting (0, 130 when interrupted, ArgumentParser's code for an error). The tests run commands
/// in-process through this; the process-wide setup (BLAS kernel, signals, stdout buffering) is
/// `main`'s alone.
public enum CommandLineEntry {
    /// The program child processes run (`check-trace`, claim workers, Slurm scripts): this
    /// executable, or the built binary when tests run commands in-process (their own executable
    /// is the test runner).
    public static var executable: String {
        get { SelfExecutable.path }
        set { SelfExecutable.path = newValue }
    }

    /// `executable` with its symbolic links resolved.
    static var executablePath: String { URL(fileURLWithPath: executable).resolvingSymlinksInPath().path }

    public static func run(_ arguments: [String]) -> Int32 {
        // `eval merge` cannot be a subcommand of eval, whose first argument is the task, and
        // under `sweep` ArgumentParser gives a repeated flag (--quiet) to the parent: both are
        // the top-level merge, which recognises sweep and eval parts.
        var args = arguments
        if args.prefix(2) == ["eval", "merge"] || args.prefix(2) == ["sweep", "merge"] { args = ["merge"] + args.dropFirst(2) }
        ProgramEnvironment.apply()
        do {
            var command = try BiasProbe.parseAsRoot(args)
            try command.run()
            return 0
        } catch let e as InterruptedError {
            Log.info("biasprobe: \(e)")
            return 130
        } catch is CancellationError {
            Log.info("biasprobe: \(InterruptedError())")
            return 130
        } catch let e as SweepInterrupted {
            Log.info("biasprobe: \(e)")
            return 130
        } catch {
            // A library's setting error is said in flag names.
            let error = (error as? SettingError).map { CLIError($0.commandLineText) as Error } ?? error
            // Help and version requests print to stdout as usual; every error is one line, no usage dump.
            let code = BiasProbe.exitCode(for: error)
            guard code != .success else {
                let text = BiasProbe.fullMessage(for: error)
                if !text.isEmpty { print(text) }
                return 0
            }
            var text = BiasProbe.message(for: error).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }.joined(separator: " ")
            // ArgumentParser reads "-1" as an option, so a negative value looks like a missing one.
            if text.hasPrefix("Missing"), let negative = args.first(where: { $0.count > 1 && $0.hasPrefix("-") && Double($0) != nil }) {
                text += " ('\(negative)' was read as an option: write a negative value as --option=\(negative); layers, heads and counts start at 0)"
            }
            FileHandle.standardError.write("Error: \(text)\n".data(using: .utf8)!)
            return code.rawValue
        }
    }
}
