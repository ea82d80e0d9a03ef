// libFuzzer target: arbitrary bytes as a biasprobe trace (an HDF5 file).
//
// Each input is written to a temporary .h5 file (libhdf5 reads files, not memory) and goes
// through what `biasprobe inspect` does: TraceReader's checks of format, version and
// completeness, the summary (TraceSummary: arrays checked against the layer/head/chunk counts,
// then indexed), every dataset of the schema by its stable name, and every root attribute.
// The reader's own files are compiled in (see Fuzz/build.sh), not the whole ProbeAnalysis
// library, which would bring the claims, Heatmap and OpenSSL into the fuzzer.
import Foundation
import HDF5Bridge

private let inputPath: String = {
    // Memory-backed /dev/shm when there is one: a file is written for every input.
    let base = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm" : FileManager.default.temporaryDirectory.path
    var template = Array((base + "/trace-fuzz-XXXXXX").utf8CString)
    guard let dir = mkdtemp(&template) else { fatalError("mkdtemp: \(errno)") }
    return String(cString: dir) + "/input.h5"
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTrace(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let fd = open(inputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { fatalError("open \(inputPath): \(errno)") }
    var done = 0
    while done < size {
        let n = write(fd, data + done, size - done)
        guard n > 0 else { fatalError("write \(inputPath): \(errno)") }
        done += n
    }
    close(fd)
    inspect(inputPath)
    return 0
}

/// TRACE_FUZZ_VERBOSE=1 prints why inputs are refused (for checking that seeds get far).
private let verbose = ProcessInfo.processInfo.environment["TRACE_FUZZ_VERBOSE"] != nil

private func inspect(_ path: String) {
    let t: TraceReader
    do { t = try TraceReader(path: path, isolated: false) } catch { if verbose { print("refused: \(error)") }; return }
    let summary: TraceSummary?
    do { summary = try TraceSummary(t) } catch { if verbose { print("summary: \(error)") }; summary = nil }
    if let s = summary {
        for band in [0, 2] {
            let top = s.ranking(band: band, top: 5)
            if top.count > min(5, s.layers * s.heads) { fatalError("ranking returned \(top.count) heads") }
        }
        for c in 0..<s.chunks { _ = (s.chunkNLL[c], s.chunkKept[c], s.chunkLength[c]) }
    }
    for e in TraceSchema.entries {
        switch e.type {
        case "float32": _ = try? t.floats(e.name)
        case "float64": _ = try? t.doubles(e.name)
        case "uint8": _ = try? t.bytes(e.name)
        default: _ = try? t.ints(e.name)
        }
    }
    for (name, _) in TraceSchema.rootAttributes {
        _ = t.string(name)
        _ = try? t.int(name)
    }
}
