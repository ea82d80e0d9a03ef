import Foundation
import PCInference
import XCTest

/// Sharding (`--shard I/N`), merging and the Slurm batch scripts, without Slurm: the partition
/// itself, sharded runs merged into what an unsharded run writes, and every refusal.
/// scripts/slurm-test.sh runs the same on a real one-node Slurm. Every assertion compares runs
/// with each other or checks files and refusals, so the runs use the tiny test model.
final class ShardTests: XCTestCase {
    var dir: URL!
    var model = ""
    override func setUpWithError() throws {
        model = try TinyModel.path()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("shard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { if let dir { try? FileManager.default.removeItem(at: dir) } }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Disjoint, complete, deterministic, and the fullest and emptiest shards within one item's cost.
    func testPartitionIsDisjointCompleteAndBalanced() {
        var state: UInt64 = 0x9E3779B97F4A7C15
        func next() -> Double { state = state &* 6364136223846793005 &+ 1442695040888963407; return Double(state >> 11) / Double(1 << 53) }
        for trial in 0..<200 {
            let count = 1 + trial % 97
            let shards = 1 + (trial * 7) % 13
            // Mixed costs: equal runs, a few large items, zeros.
            let costs: [Double] = (0..<count).map { i in
                switch trial % 4 { case 0: return 1000; case 1: return 100 + next() * 900; case 2: return i % 10 == 0 ? 5000 : 50 * next(); default: return i % 3 == 0 ? 0 : next() }
            }
            let a = WorkPartition.assign(costs: costs, shards: shards)
            XCTAssertEqual(a, WorkPartition.assign(costs: costs, shards: shards), "deterministic")
            var seen = Set<Int>()
            var load = [Double](repeating: 0, count: shards)
            for s in 0..<shards {
                let items = WorkPartition.items(costs: costs, shards: shards, index: s)
                XCTAssertEqual(items, items.sorted(), "work-list order")
                XCTAssertTrue(seen.isDisjoint(with: items), "trial \(trial): shard \(s) repeats an item")
                seen.formUnion(items)
                load[s] = items.reduce(0) { $0 + costs[$1] }
            }
            XCTAssertEqual(seen, Set(0..<count), "trial \(trial): every item in a shard")
            let maxCost = costs.max() ?? 0
            XCTAssertLessThanOrEqual(load.max()! - load.min()!, maxCost + 1e-9, "trial \(trial): \(load) with items up to \(maxCost)")
            if trial % 4 == 0 {
                let n = (0..<shards).map { s in a.filter { $0 == s }.count }
                XCTAssertLessThanOrEqual(n.max()! - n.min()!, 1, "equal items deal round-robin")
            }
        }
    }

    var sweepArgs: [String] { ["--model", model, "--length", "256", "--chunk-tokens", "128", "--depths", "0.25,0.75", "--tasks", "passkey", "--quiet"] }

    func sweep(_ extra: [String], _ out: String, env: [String: String] = [:]) throws -> CLI.Result {
        try CLI.run(["sweep"] + sweepArgs + ["--vary", "keep-chunks=1,2"] + extra + ["-o", out], environment: env)
    }

    func assertOneLineError(_ r: CLI.Result, _ needle: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.status, 0, "expected a refusal containing '\(needle)'", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("Error: ") && r.stderr.contains(needle), r.stderr, file: file, line: line)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr, file: file, line: line)
    }

    /// The plan the sweep deals: every (point, example) once, shards balanced, and the shard
    /// taken from Slurm's array variables when --shard is absent.
    func testSweepPlanAndSlurmEnvironment() throws {
        let r = try sweep(["--vary", "chunk-tokens=256,512", "--plan", "--shard", "2/3"], path("p.h5"))
        XCTAssertEqual(r.status, 0, r.stderr)
        let plan = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let items = try XCTUnwrap(plan["items"] as? [[String: Any]])
        XCTAssertEqual(items.count, 8)   // 2 x 2 points x 2 examples
        XCTAssertEqual(items.map { $0["item"] as! Int }, Array(0..<8))
        var load = [Double](repeating: 0, count: 3)
        for it in items { load[(it["shard"] as! Int) - 1] += it["cost"] as! Double }
        let maxCost = items.map { $0["cost"] as! Double }.max()!
        XCTAssertLessThanOrEqual(load.max()! - load.min()!, maxCost, "\(load)")
        XCTAssertTrue((plan["part"] as? String)?.hasSuffix("p.part-2-of-3.h5") == true)

        let env = try sweep(["--plan"], path("p.h5"), env: ["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "1"])
        XCTAssertEqual(env.status, 0, env.stderr)
        XCTAssertTrue(env.stdout.contains("p.part-3-of-4.h5"), env.stdout)
        let zero = try sweep(["--plan"], path("p.h5"), env: ["SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "0"])
        XCTAssertTrue(zero.stdout.contains("p.part-1-of-4.h5"), zero.stdout + zero.stderr)
        // A lone resubmitted task (--array=3) is a one-task array: refused, not run whole.
        assertOneLineError(try sweep(["--plan"], path("p.h5"), env: ["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "1", "SLURM_ARRAY_TASK_MIN": "3"]),
                           "pass --shard I/N")
        assertOneLineError(try sweep(["--shard", "4/3"], path("p.h5")), "--shard")
    }

    /// Three shards merged give the unsharded file (every dataset but timings, memory and memo
    /// counters byte-identical); bad merges are refused in one line; an incomplete part is
    /// reported with its missing items and completed by re-running only its shard.
    func testShardedSweepMergesExactlyAndRefusesBadParts() throws {
        let full = path("full.h5"), out = path("s.h5")
        XCTAssertEqual(try sweep([], full).status, 0)
        for i in 1...3 {
            let r = try sweep(["--shard", "\(i)/3"], out)
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let parts = (1...3).map { path("s.part-\($0)-of-3.h5") }
        for p in parts { XCTAssertTrue(FileManager.default.fileExists(atPath: p), p) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "shards write parts only")

        // A part is not a sweep to plot.
        assertOneLineError(try CLI.run(["plot", "sweep", "--sweep", parts[0], "-o", path("x.png")]), "merge the parts first")

        let m = try CLI.run(["sweep", "merge", out] + parts)
        XCTAssertEqual(m.status, 0, m.stderr)
        XCTAssertTrue(m.stdout.contains("merged 3 parts"), m.stdout)
        let cmp = try CLI.launch("/usr/bin/env", ["python3", CLI.packageRoot.appendingPathComponent("scripts/compare-sweeps.py").path, full, out])
        XCTAssertEqual(cmp.status, 0, cmp.stdout + cmp.stderr)
        // 40 datasets: 22 before the harder tasks added four task accuracies and ppl_nll, the
        // stored KV bytes added points/kv_bytes and results/kv_bytes, and RULER's 11 tasks an
        // accuracy each (all identical); the 6 others hold timings.
        // 34 always; peak RSS (2 datasets) may coincide too now that the CLI runs in the test
        // process, so the count is 34-36 and every result dataset must be among the identical.
        let line = cmp.stdout.split(separator: "\n").first { $0.contains("identical datasets: ") }.map(String.init) ?? ""
        let n = Int(line.components(separatedBy: "identical datasets: ").last?.split(separator: " ").first ?? "") ?? 0
        // On sweeps this small the memo counters may coincide as well (each item's chunks are
        // few), so up to all 40; the script's exit status above already requires every dataset
        // but timings, memory and memo counters to be identical.
        XCTAssertTrue(line.contains(" of 40") && (34...40).contains(n), cmp.stdout)
        for d in ["results/correct", "results/answer_nll", "results/needle_mass", "points/answer_nll", "points/kv_bytes"] {
            XCTAssertTrue(line.contains(d), "\(d) differs: \(cmp.stdout)")
        }
        // The top-level merge finds the parts next to OUT by itself.
        let auto = try CLI.run(["merge", path("auto.h5"), "--quiet"], cwd: dir)
        XCTAssertNotEqual(auto.status, 0, "no parts next to auto.h5")
        XCTAssertEqual(try CLI.run(["merge", out, "--quiet"]).status, 0)

        // Refusals, each naming the first difference.
        assertOneLineError(try CLI.run(["sweep", "merge", path("m.h5"), parts[0], parts[0], parts[1], parts[2]]), "shard 1/3 is given twice")
        assertOneLineError(try CLI.run(["sweep", "merge", path("m.h5"), parts[0], parts[1]]), "no part for shard 3/3")
        assertOneLineError(try CLI.run(["sweep", "merge", path("m.h5"), parts[0], full]), "not a part of a sharded sweep")
        assertOneLineError(try CLI.run(["sweep", "merge", parts[0], parts[0], parts[1], parts[2]]), "both the output and a part")
        let other = path("o.h5")
        XCTAssertEqual(try CLI.run(["sweep"] + sweepArgs + ["--vary", "keep-chunks=1,3", "--shard", "1/3", "-o", other]).status, 0)
        assertOneLineError(try CLI.run(["sweep", "merge", path("m.h5"), parts[1], path("o.part-1-of-3.h5"), parts[2]]),
                           "has grid keep-chunks=1,3")
        let edit = try CLI.python("""
            import h5py, shutil, sys
            shutil.copy(sys.argv[1], sys.argv[2])
            with h5py.File(sys.argv[2], 'r+') as f:
                f.attrs['model_sha256'] = '0' * 64
            # A shard killed during its last item: that item's point was never written (it is
            # this shard's only item of that point), so its counters are zero too.
            with h5py.File(sys.argv[1], 'r+') as f:
                items = f['shard/items'][:]
                d = f['results/done'][:]
                e = d.shape[1]
                p = items[-1] // e
                assert [i // e for i in items].count(p) == 1
                d[p, items[-1] % e] = 0
                f['results/done'][...] = d
                for name in ['points/chunks_prefilled', 'points/chunks_reused', 'points/peak_rss_bytes']:
                    v = f[name][:]; v[p] = 0; f[name][...] = v
            print('ok')
            """, args: [parts[0], path("hash.h5")])
        XCTAssertEqual(edit.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "ok", edit.stderr)
        assertOneLineError(try CLI.run(["sweep", "merge", path("m.h5"), parts[1], path("hash.h5"), parts[2]]), "has model sha256 000000000000")
        let incomplete = try CLI.run(["sweep", "merge", path("m.h5")] + parts)
        assertOneLineError(incomplete, "shard 1/3")
        XCTAssertTrue(incomplete.stderr.contains("is missing 1 of 2 items: keep-chunks=2 passkey depth 0.75 seed 0"), incomplete.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("m.h5")))
        let rerun = try CLI.run((["sweep"] + sweepArgs + ["--vary", "keep-chunks=1,2", "--shard", "1/3", "-o", out]).filter { $0 != "--quiet" })
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertTrue(rerun.stderr.contains("resuming shard 1/3: 1 of 2 items"), rerun.stderr)
        XCTAssertEqual(try CLI.run(["sweep", "merge", path("m.h5")] + parts + ["--quiet"]).status, 0)
        let again = try CLI.launch("/usr/bin/env", ["python3", CLI.packageRoot.appendingPathComponent("scripts/compare-sweeps.py").path, full, path("m.h5")])
        XCTAssertEqual(again.status, 0, again.stdout + again.stderr)
    }

    /// Eval parts merge into the lines `eval --json --out` writes; rows differ only in timing and memo counters.
    func testShardedEvalMergesAndRefuses() throws {
        let args = ["eval", "passkey", "--model", model, "--lengths", "256", "--chunk-tokens", "128", "--depths", "0.25,0.75",
                    "--method", "parallelcomp,truncate", "--quiet"]
        let full = path("full.jsonl"), out = path("e.jsonl")
        let f = try CLI.run(args + ["--json", "--out", full])
        XCTAssertEqual(f.status, 0, f.stderr)
        XCTAssertEqual(try String(contentsOfFile: full, encoding: .utf8), f.stdout, "--out holds what --json prints")
        for i in 1...2 { XCTAssertEqual(try CLI.run(args + ["--shard", "\(i)/2", "--out", out]).status, 0) }
        let m = try CLI.run(["eval", "merge", out])
        XCTAssertEqual(m.status, 0, m.stderr)
        func rows(_ p: String) throws -> [[String: Any]] {
            try String(contentsOfFile: p, encoding: .utf8).split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        }
        let a = try rows(full), b = try rows(out)
        XCTAssertEqual(a.count, 5)
        XCTAssertEqual(b.count, 5)
        let volatile: Set<String> = ["seconds", "chunks_reused", "peak_rss_bytes"]
        for (x, y) in zip(a, b) {
            let strip = { (d: [String: Any]) in NSDictionary(dictionary: d.filter { !volatile.contains($0.key) }) }
            XCTAssertEqual(strip(x), strip(y))
        }
        let parts = (1...2).map { path("e.part-\($0)-of-2.jsonl") }
        assertOneLineError(try CLI.run(["merge", path("m.jsonl"), parts[0], parts[0], parts[1]]), "shard 1/2 is given twice")
        assertOneLineError(try CLI.run(["merge", path("m.jsonl"), parts[1]]), "no part for shard 1/2")
        XCTAssertEqual(try CLI.run(args.map { $0 == "0.25,0.75" ? "0.25,0.5" : $0 } + ["--shard", "1/2", "--out", path("d.jsonl")]).status, 0)
        assertOneLineError(try CLI.run(["merge", path("m.jsonl"), path("d.part-1-of-2.jsonl"), parts[1]]), "(depths differs)")
        // A killed task: its part lost the last line (and half of another).
        var text = try String(contentsOfFile: parts[0], encoding: .utf8).split(separator: "\n").map(String.init)
        let last = text.removeLast()
        try (text.joined(separator: "\n") + "\n" + last.prefix(20)).write(toFile: parts[0], atomically: true, encoding: .utf8)
        assertOneLineError(try CLI.run(["merge", path("m.jsonl")] + parts), "shard 1/2 (\(parts[0])) is missing 1 of 2 items")
        XCTAssertEqual(try CLI.run(args + ["--shard", "1/2", "--out", out]).status, 0)
        XCTAssertEqual(try CLI.run(["merge", path("m.jsonl")] + parts + ["--quiet"]).status, 0)
        XCTAssertEqual(try rows(path("m.jsonl")).count, 5)
    }

    /// `slurm sweep --dry-run` writes plain batch scripts that bash accepts; the shard script run
    /// by hand as array task 2 writes part 2; status reads the parts; bad arguments are refused.
    func testSlurmScriptsWithoutSlurm() throws {
        let out = path("runs/s.h5")
        let r = try CLI.run(["slurm", "sweep", "--shards", "3", "--time", "1:00:00", "--mem", "2G", "--dry-run"] + sweepArgs + ["--vary", "keep-chunks=1,2", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let script = try String(contentsOfFile: path("runs/s.sbatch"), encoding: .utf8)
        for needle in ["#SBATCH --array=1-3", "#SBATCH --time=1:00:00", "#SBATCH --mem=2G", "--shard \"${SLURM_ARRAY_TASK_ID}/3\"", "sweep --model"] {
            XCTAssertTrue(script.contains(needle), "\(needle) in\n\(script)")
        }
        let merge = try String(contentsOfFile: path("runs/s.merge.sbatch"), encoding: .utf8)
        XCTAssertTrue(merge.contains("sweep merge \(out)") && merge.contains("s.part-3-of-3.h5"), merge)
        XCTAssertTrue(r.stdout.contains("--dependency=afterok"), r.stdout)
        for s in ["runs/s.sbatch", "runs/s.merge.sbatch"] { XCTAssertEqual(try CLI.launch("/bin/bash", ["-n", path(s)]).status, 0, s) }

        let task = try CLI.launch("/bin/bash", [path("runs/s.sbatch")], environment: ProcessInfo.processInfo.environment.merging(
            ["SLURM_ARRAY_TASK_ID": "2", "SLURM_CPUS_PER_TASK": "1"]) { _, b in b })
        XCTAssertEqual(task.status, 0, task.stderr)
        let st = try CLI.run(["slurm", "status", path("runs")])
        XCTAssertEqual(st.status, 0, st.stderr)
        XCTAssertTrue(st.stdout.contains("shard 2/3") && st.stdout.contains("done") && st.stdout.contains("not started"), st.stdout)

        let ev = try CLI.run(["slurm", "eval", "--shards", "2", "--dry-run", "passkey", "--model", model, "--lengths", "1024",
                              "--out", path("runs/e.jsonl")])
        XCTAssertEqual(ev.status, 0, ev.stderr)
        let evScript = try String(contentsOfFile: path("runs/e.sbatch"), encoding: .utf8)
        XCTAssertTrue(evScript.contains("eval passkey --model") && evScript.contains("#SBATCH --array=1-2"), evScript)
        XCTAssertTrue(try String(contentsOfFile: path("runs/e.merge.sbatch"), encoding: .utf8).contains("e.part-2-of-2.jsonl"))
        assertOneLineError(try CLI.run(["slurm", "eval", "--shards", "2", "--dry-run", "passkey", "--lengths", "1024"]), "--out FILE.jsonl")

        assertOneLineError(try CLI.run(["slurm", "sweep", "--shards", "2"] + sweepArgs + ["--vary", "keep-chunks=1", "--shard", "1/2", "-o", out]), "--shard")
        assertOneLineError(try CLI.run(["slurm", "sweep", "--shards", "2", "--dry-run", "--length", "12x", "--vary", "keep-chunks=1", "-o", out]), "sweep arguments")
        assertOneLineError(try CLI.run(["slurm", "status", path("nothing")]), "does not exist")
    }
}
