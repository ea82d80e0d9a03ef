@preconcurrency import Glibc
import ArgumentParser
import Foundation
import PCInference

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
        BLASKernelSelection.ensureBestKernel()
        Signals.install()
        // One --json line per finished example: line-buffer stdout even into a file or pipe, so a
        // run that is interrupted or killed keeps every line it printed (and tail -f shows them).
        setvbuf(stdout, nil, _IOLBF, 0)
        // `eval merge` cannot be a subcommand of eval, whose first argument is the task, and
        // under `sweep` ArgumentParser gives a repeated flag (--quiet) to the parent: both are
        // the top-level merge, which recognises sweep and eval parts.
        var args = Array(CommandLine.arguments.dropFirst())
        if args.prefix(2) == ["eval", "merge"] || args.prefix(2) == ["sweep", "merge"] { args = ["merge"] + args.dropFirst(2) }
        do {
            var command = try parseAsRoot(args)
            try command.run()
        } catch let e as InterruptedError {
            Log.info("biasprobe: \(e)")
            Foundation.exit(130)
        } catch is CancellationError {
            Log.info("biasprobe: \(InterruptedError())")
            Foundation.exit(130)
        } catch let e as SweepInterrupted {
            Log.info("biasprobe: \(e)")
            Foundation.exit(130)
        } catch {
            // Help and version requests print as usual; every error is one line, no usage dump.
            guard exitCode(for: error) != .success else { exit(withError: error) }
            var text = message(for: error).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }.joined(separator: " ")
            // ArgumentParser reads "-1" as an option, so a negative value looks like a missing one.
            if text.hasPrefix("Missing"), let negative = args.first(where: { $0.count > 1 && $0.hasPrefix("-") && Double($0) != nil }) {
                text += " ('\(negative)' was read as an option: write a negative value as --option=\(negative); layers, heads and counts start at 0)"
            }
            FileHandle.standardError.write("Error: \(text)\n".data(using: .utf8)!)
            Foundation.exit(exitCode(for: error).rawValue)
        }
    }
}
