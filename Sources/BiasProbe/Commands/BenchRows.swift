import ArgumentParser
import Foundation
import PCInference
import ProbeAnalysis

/// Short passes: one forward pass of a few rows through the direct few-rows kernels and through
/// dequantise + sgemm, side by side, to place `LlamaModel.fewRowsLimit` on this host.
struct BenchRows: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rows",
        abstract: "Time one short forward pass per row count through the direct kernels and through sgemm; report the crossover.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Row counts to time, comma-separated (default 1,2,4,8,16,32,64).") var rows = "1,2,4,8,16,32,64"
    @Option(help: "Alternating repetitions per row count (the minimum of each path is reported).") var repeats = 5
    @Flag(help: "One JSON object per row count on stdout.") var json = false

    var rowCounts: [Int] { rows.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
        let parts = rows.split(separator: ",", omittingEmptySubsequences: false)
        guard !parts.isEmpty, parts.allSatisfy({ Int($0.trimmingCharacters(in: .whitespaces)).map { $0 >= 1 && $0 <= 4096 } ?? false }) else {
            throw ValidationError("--rows must be a comma-separated list of row counts between 1 and 4096, got '\(rows)'")
        }
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
    }

    func run() throws {
        let (model, tok, gguf) = try modelOptions.load()
        // A second copy with every matrix expanded to float32 once: sgemm without the per-pass
        // dequantisation, as `claims` and the tests run.
        let expanded = try LlamaModel(gguf: gguf, threads: model.threads)
        expanded.expandWeights()
        let counts = rowCounts
        Log.info("plan: \(counts.count) row counts x \(repeats) repetitions x 3 paths (direct, sgemm, sgemm on expanded weights), one pass each")
        if !json {
            print("CPU \(HostCPU.name), decode kernel \(QuantMatVec.kernelName), BLAS \(BLAS.coreName), \(model.threads) threads; minimum of \(repeats)")
            print(" rows   direct s    sgemm s  sgemm-expanded s   sgemm/direct  expanded/direct")
        }
        var results: [RowsBenchRow] = []
        for R in counts {
            let ids = benchTokens(tok, count: R)
            func pass(_ m: LlamaModel, direct: Bool) throws -> Double {
                m.fewRowsLimit = direct ? Int.max : 0
                m.decodePath = direct ? .float : .sgemm
                defer { m.fewRowsLimit = nil; m.decodePath = DecodePath.standard }
                return try bestTime(1) { try m.forward(tokens: ids, positions: Array(0..<R), cache: m.makeCache(), logitRows: [R - 1]) }
            }
            var d = Double.infinity, s = Double.infinity, e = Double.infinity
            // Alternate the paths, so a busy spell on the host hits all of them alike.
            for _ in 0..<repeats {
                d = min(d, try pass(model, direct: true))
                s = min(s, try pass(model, direct: false))
                e = min(e, try pass(expanded, direct: false))
            }
            let row = RowsBenchRow(rows: R, directSeconds: d, sgemmSeconds: s, sgemmExpandedSeconds: e, cpu: HostCPU.name,
                                   kernel: QuantMatVec.kernelName, threads: model.threads)
            results.append(row)
            if json { try JSONOut.emit(row) }
            else { print(String(format: "%5d  %9.4f  %9.4f  %16.4f  %13.2fx  %15.2fx", R, d, s, e, s / d, e / d)) }
        }
        if !json {
            let wins = { (other: KeyPath<RowsBenchRow, Double>) in results.filter { $0.directSeconds < $0[keyPath: other] }.map(\.rows).max() }
            print("direct faster than sgemm up to \(wins(\.sgemmSeconds).map(String.init) ?? "no") rows, than sgemm on expanded weights up to \(wins(\.sgemmExpandedSeconds).map(String.init) ?? "no") rows (of those timed)")
        }
    }
}

/// `bench rows --json`: one line per row count.
struct RowsBenchRow: Encodable {
    var rows: Int, directSeconds: Double, sgemmSeconds: Double, sgemmExpandedSeconds: Double, cpu: String, kernel: String, threads: Int
    enum CodingKeys: String, CodingKey {
        case rows, directSeconds = "direct_seconds", sgemmSeconds = "sgemm_seconds", sgemmExpandedSeconds = "sgemm_expanded_seconds"
        case cpu, kernel, threads
    }
}

/// The CPU's model name from /proc/cpuinfo ("unknown" elsewhere), to label measurements.
enum HostCPU {
    static var name: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let colon = line.firstIndex(of: ":") else { return "unknown" }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
}
