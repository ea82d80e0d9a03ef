import Foundation
import XCTest

/// Hostile inputs, generated here: corrupt GGUF headers, damaged traces, hostile configs and
/// token layouts, outputs that are inputs, devices, FIFOs or folders. Each goes through a command
/// that reads it; every one must end in one line naming the problem, a plain error exit, and no
/// change to any file in the folder.
final class HostileCorpusTests: XCTestCase {
    struct Case { let name: String; let args: [String]; let expect: [String] }

    func testHostileCorpus() throws {
        try CLI.requireModel()
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        func write(_ name: String, _ text: String) throws -> String {
            try text.write(toFile: path(name), atomically: false, encoding: .utf8); return path(name)
        }
        func writeBytes(_ name: String, _ bytes: [UInt8]) throws -> String {
            try Data(bytes).write(to: URL(fileURLWithPath: path(name))); return path(name)
        }
        func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

        // Inputs that are fine, to aim the hostile ones at.
        let trace = try CLI.goldenTrace(in: dir)
        let layoutOK = dir.appendingPathComponent("golden_layout.json").path
        let ctx = try write("ctx.txt", String(repeating: "The sky is blue and the grass is green. ", count: 30))
        let cfgOK = try write("ok.json", #"{"keepChunks": 2}"#)
        let folder = path("folder"); try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        let fifo = path("fifo"); XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let hard = path("hard.h5"); XCTAssertEqual(link(trace, hard), 0)
        let sym = path("sym.h5"); XCTAssertEqual(symlink(trace, sym), 0)
        let notUTF8 = try writeBytes("latin1.txt", Array("caf".utf8) + [0xE9, 0x20, 0x6F, 0x6B])

        // Damaged traces: cut in half; an attribute of the wrong type (h5py).
        let traceBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: trace)))
        let truncated = try writeBytes("truncated.h5", Array(traceBytes.prefix(traceBytes.count / 2)))
        let wrongType = path("wrongtype.h5")
        try FileManager.default.copyItem(atPath: trace, toPath: wrongType)
        let py = try CLI.python("import h5py,sys\nwith h5py.File(sys.argv[1],'r+') as f:\n    del f.attrs['chunks']\n    f.attrs['chunks']='three'", args: [wrongType])
        XCTAssertEqual(py.status, 0, py.stderr)

        // Corrupt GGUF headers: magic, version, absurd counts, cut short.
        let ggufMagic: [UInt8] = Array("GGUF".utf8)
        let badMagic = try writeBytes("badmagic.gguf", Array("GGML".utf8) + le(3, 4) + le(0, 8) + le(0, 8))
        let badVersion = try writeBytes("badversion.gguf", ggufMagic + le(99, 4) + le(0, 8) + le(0, 8))
        let hugeTensors = try writeBytes("hugetensors.gguf", ggufMagic + le(3, 4) + le(UInt64(1) << 62, 8) + le(0, 8))
        let hugeKV = try writeBytes("hugekv.gguf", ggufMagic + le(3, 4) + le(0, 8) + le(UInt64(1) << 62, 8))
        let hugeKey = try writeBytes("hugekey.gguf", ggufMagic + le(3, 4) + le(0, 8) + le(1, 8) + le(UInt64(1) << 60, 8) + Array("abc".utf8))

        // Hostile configs.
        let cfgTypo = try write("typo.json", #"{"keepChunk": 2}"#)
        let cfgNestedTypo = try write("nested.json", #"{"sampling": {"temprature": 0.5}}"#)
        let cfgLambda = try write("lambda.json", #"{"lambda": 50}"#)
        let cfgType = try write("type.json", #"{"keepChunks": "two"}"#)
        let cfgArray = try write("array.json", "[1, 2]")
        let cfgJunk = try write("junk.json", "keepChunks = 2")
        let cfgTopP = try write("topp.json", #"{"config": {"sampling": {"topP": 2}}}"#)

        // Hostile token layouts: a 20,000-token chunk, an id outside the vocabulary, not JSON.
        let bigChunk = try write("big.json", #"{"chunks": [[\#(Array(repeating: "100", count: 20_000).joined(separator: ","))]], "question": [5, 6]}"#)
        let badID = try write("badid.json", #"{"chunks": [[1, 2, -7]], "question": [5]}"#)
        let layoutJunk = try write("layoutjunk.json", #"{"chunks": "none"}"#)

        // Damaged eval parts: a junk line between rows; a row whose seed is not a number.
        let header = #"{"format":"biasprobe-eval-part","version":1,"shard":"1/1","settings":"{}","modelSHA256":"ab","workList":"w","totalItems":1,"items":[0],"host":"h"}"#
        let row = #"{"task":"passkey","method":"parallelcomp","length":4096,"depth":0.5,"seed":"zero","answer":"1","expected":"1","correct":true,"kept_chunks":[0],"seconds":1}"#
        let junkPart = try write("junk.part-1-of-1.jsonl", header + "\nnot a row at all\n" + #"{"item":0,"peak_rss_bytes":1,"row":{"seed":0}}"# + "\n")
        let badRowPart = try write("badrow.part-1-of-1.jsonl", header + "\n" + #"{"item":0,"peak_rss_bytes":1,"row":"# + row + "}\n")

        let run = ["run", "--input", ctx, "--question", "What colour is the sky?", "--max-tokens", "1"]
        let cases: [Case] = [
            // Outputs that would destroy something.
            Case(name: "plot over its trace", args: ["plot", "layer", "3", "--trace", trace, "-o", trace], expect: ["same file as the input --trace"]),
            Case(name: "plot over a hard link to its trace", args: ["plot", "layer", "3", "--trace", trace, "-o", hard], expect: ["same file", hard]),
            Case(name: "plot over a symlink to its trace", args: ["plot", "overview", "--trace", trace, "-o", sym], expect: ["same file", sym]),
            Case(name: "trace over its input text", args: ["trace", "--input", ctx, "-o", ctx], expect: ["same file as the input --input"]),
            Case(name: "trace over its token layout", args: ["trace", "--token-layout", layoutOK, "-o", layoutOK], expect: ["same file as the input --token-layout"]),
            Case(name: "trace over its config", args: ["trace", "--config", cfgOK, "-o", cfgOK, "--force"], expect: ["same file as the input --config"]),
            Case(name: "trace over the model", args: ["trace", "-o", CLI.modelPath, "--force"], expect: ["same file as the input --model"]),
            Case(name: "trace onto a folder", args: ["trace", "-o", folder], expect: ["is a directory"]),
            Case(name: "trace onto a FIFO", args: ["trace", "-o", fifo], expect: ["FIFO"]),
            Case(name: "trace onto a device", args: ["trace", "-o", "/dev/null"], expect: ["character device"]),
            Case(name: "plot onto a device", args: ["plot", "layer", "3", "--trace", trace, "-o", "/dev/null"], expect: ["character device"]),
            Case(name: "trace over an existing trace", args: ["trace", "--token-layout", layoutOK, "-o", trace], expect: ["already exists", "--force"]),
            Case(name: "trace into /proc", args: ["trace", "-o", "/proc/biasprobe-test.h5"], expect: ["cannot create a file in /proc"]),
            Case(name: "eval lines onto a folder", args: ["eval", "passkey", "--out", folder], expect: ["is a directory"]),
            // Inputs that are not what they claim.
            Case(name: "missing context", args: ["run", "--input", path("nope.txt"), "--question", "Why?"], expect: ["no such file"]),
            Case(name: "context is a folder", args: ["run", "--input", folder, "--question", "Why?"], expect: ["is a directory"]),
            Case(name: "context is a FIFO", args: ["run", "--input", fifo, "--question", "Why?"], expect: ["FIFO"]),
            Case(name: "context is not UTF-8", args: ["run", "--input", notUTF8, "--question", "Why?"], expect: ["not UTF-8", "offset 3"]),
            Case(name: "trace input is not UTF-8", args: ["trace", "--input", notUTF8, "-o", path("x.h5")], expect: ["--input", "not UTF-8"]),
            Case(name: "model is a FIFO", args: ["info", "--model", fifo], expect: ["FIFO", "not a regular file"]),
            Case(name: "run model is a FIFO", args: ["run", "--model", fifo, "--input", ctx, "--question", "Why?"], expect: ["FIFO"]),
            Case(name: "model is a folder", args: ["run", "--model", folder, "--input", ctx, "--question", "Why?"], expect: ["is a directory"]),
            Case(name: "GGUF bad magic", args: ["info", "--model", badMagic], expect: [badMagic]),
            Case(name: "GGUF bad version", args: ["info", "--model", badVersion], expect: [badVersion]),
            Case(name: "GGUF absurd tensor count", args: ["info", "--model", hugeTensors], expect: [hugeTensors]),
            Case(name: "GGUF absurd metadata count", args: ["info", "--model", hugeKV], expect: [hugeKV]),
            Case(name: "GGUF absurd key length", args: ["info", "--model", hugeKey], expect: [hugeKey]),
            // Damaged traces.
            Case(name: "truncated trace", args: ["inspect", truncated], expect: [truncated, "truncated"]),
            Case(name: "wrong-type attribute", args: ["inspect", wrongType], expect: ["chunks", "wrong type"]),
            Case(name: "trace is a folder", args: ["inspect", folder], expect: ["is a directory"]),
            Case(name: "trace missing", args: ["inspect", path("none.h5")], expect: ["not found"]),
            Case(name: "plot a FIFO", args: ["plot", "layer", "3", "--trace", fifo, "-o", path("p.png")], expect: ["FIFO"]),
            // Configs.
            Case(name: "config key typo", args: run + ["--config", cfgTypo], expect: ["unknown key \"keepChunk\"", "did you mean \"keepChunks\""]),
            Case(name: "config nested typo", args: run + ["--config", cfgNestedTypo], expect: ["sampling.temprature", "\"temperature\""]),
            Case(name: "config lambda out of range", args: run + ["--config", cfgLambda], expect: ["lambda (--lambda)", "50"]),
            Case(name: "config wrong type", args: run + ["--config", cfgType], expect: ["field \"keepChunks\"", "integer"]),
            Case(name: "config not an object", args: run + ["--config", cfgArray], expect: ["JSON object", "array"]),
            Case(name: "config not JSON", args: run + ["--config", cfgJunk], expect: ["not valid JSON"]),
            Case(name: "config top-p in the --json wrapper", args: run + ["--config", cfgTopP], expect: ["topP (--top-p)", "2"]),
            // Flags.
            Case(name: "temperature NaN", args: run + ["--temperature", "nan"], expect: ["--temperature", "nan"]),
            Case(name: "top-p 2", args: run + ["--top-p", "2"], expect: ["--top-p", "(0, 1]"]),
            Case(name: "empty question", args: ["run", "--input", ctx, "--question", " "], expect: ["--question is empty"]),
            Case(name: "lambda NaN", args: run + ["--lambda", "nan"], expect: ["--lambda"]),
            Case(name: "depth NaN", args: ["eval", "passkey", "--depths", "0.5,nan"], expect: ["--depths"]),
            Case(name: "negative layer", args: ["plot", "layer", "-1", "--trace", trace], expect: ["'-1' was read as an option"]),
            Case(name: "negative lambda", args: run + ["--lambda", "-1"], expect: ["--lambda", "--option=-1"]),
            // Token layouts.
            Case(name: "20,000-token chunk", args: ["trace", "--token-layout", bigChunk, "-o", path("big.h5")], expect: ["chunk 0 has 20000 tokens", "trained context"]),
            Case(name: "token id outside the vocabulary", args: ["trace", "--token-layout", badID, "-o", path("bad.h5")], expect: ["-7", "vocabulary"]),
            Case(name: "layout of the wrong shape", args: ["run", "--token-layout", layoutJunk], expect: ["--token-layout", "chunks"]),
            // Work lists.
            Case(name: "seed count overflow", args: ["eval", "passkey", "--seeds", "9223372036854775807"], expect: ["work list", "--seeds"]),
            Case(name: "first seed overflow", args: ["eval", "passkey", "--first-seed", "9223372036854775807", "--seeds", "2"], expect: ["--first-seed", "largest seed"]),
            // Eval parts.
            Case(name: "junk line in a part", args: ["eval", "merge", path("merged.jsonl"), junkPart], expect: ["line 2 is not a result line"]),
            Case(name: "a part that is not a part", args: ["eval", "merge", path("merged3.jsonl"), ctx], expect: ["not a part of a sharded eval"]),
            Case(name: "mistyped row in a part", args: ["eval", "merge", path("merged2.jsonl"), badRowPart], expect: ["not a valid eval row", "seed"]),
        ]

        let t0 = Date()
        for c in cases {
            let before = Hostile.fingerprint(dir)
            let r = try Hostile.run(c.args, limit: 60)
            XCTAssertNotEqual(r.status, -1, "\(c.name): hung")
            XCTAssertTrue(r.status == 1 || r.status == 64, "\(c.name): exit status \(r.status): \(r.stderr)")
            let lines = Hostile.errorLines(r)
            XCTAssertEqual(lines.count, 1, "\(c.name): stderr is not one line: \(r.stderr)")
            for e in c.expect { XCTAssertTrue(r.stderr.contains(e), "\(c.name): stderr should mention '\(e)': \(r.stderr)") }
            let after = Hostile.fingerprint(dir)
            XCTAssertEqual(after, before, "\(c.name): files in the test folder changed")
        }
        print("hostile corpus: \(cases.count) cases in \(String(format: "%.1f", Date().timeIntervalSince(t0))) s")
    }
}
