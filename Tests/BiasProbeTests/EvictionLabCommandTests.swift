import Foundation
import XCTest

/// The eviction lab through the command line: a policy's trace reports the kept sets the budget
/// allows, consistently across its datasets (every policy's budget is checked in process by
/// EvictionLabTests; one trace here, each costs several prefill passes), `plot policies` draws
/// it, and bad lab options fail in one line.
final class EvictionLabCommandTests: XCTestCase {
    func testPolicyTraceReportsKeptSetsAndPlotPoliciesDrawsThem() throws {
        try CLI.requireModel()
        let dir = try CLI.tempDir()
        var traces: [String] = []
        for (policy, budget) in [("streaming", "20")] {
            let out = dir.appendingPathComponent("\(policy).h5").path
            let r = try CLI.run(["trace", "--token-layout", try CLI.goldenLayout(in: dir), "--keep-chunks", "2", "--max-tokens", "1",
                                 "--policy", policy, "--budget", budget, "--sink", "4", "--recent", "2", "--band-width", "8",
                                 "--no-prefill-rows", "--quiet", "--out", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            traces.append(out)
        }
        // Per layer, head and chunk the three context bands hold exactly the budget (chunks are
        // longer than it), the question band all its keys; kept mass <= band mass, bands <= 1.
        let script = """
        import sys, h5py, numpy as np
        for path, budget in zip(sys.argv[1:2], (20,)):
            f = h5py.File(path, 'r')
            keys = f['eviction/policy_keys'][:]; kept = f['eviction/policy_kept'][:]
            mass = f['eviction/policy_mass'][:]; band = f['eviction/policy_band_mass'][:]
            assert (keys[:, :3].sum(1) > budget).all(), keys
            assert (kept[..., :3].sum(-1) == budget).all(), kept[..., :3].sum(-1)
            assert (kept[..., 3] == keys[None, None, :, 3]).all()
            assert (kept <= keys[None, None]).all()
            assert np.isfinite(mass).all() and np.isfinite(band).all()
            assert (mass <= band + 1e-6).all() and (band.sum(-1) <= 1 + 1e-4).all()
            if 'streaming' in path:   # the 4 sinks of the 8-key sink band, and the whole recent band
                assert (kept[..., 0] == 4).all() and (kept[..., 2] == keys[None, None, :, 2]).all()
        print('ok')
        """
        let py = try CLI.python(script, args: traces)
        XCTAssertEqual(py.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "ok", py.stderr)
        let png = dir.appendingPathComponent("policies.png").path
        let p = try CLI.run(["plot", "policies", "--traces", (traces + traces).joined(separator: ","), "-o", png, "--json"])
        XCTAssertEqual(p.status, 0, p.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: png))
        XCTAssertTrue(p.stdout.contains("share of the band's keys kept"), p.stdout)
    }

    /// A sweep refuses decode-time eviction for a policy whose paper defines none, before any work.
    func testSweepRefusesDecodeEvictionForOtherPolicies() throws {
        try CLI.requireModel()
        let out = try CLI.tempDir().appendingPathComponent("bad.h5").path
        let bad = try CLI.run(["sweep", "--model", CLI.modelPath, "--length", "1024", "--policy", "tova", "--budget", "16",
                               "--vary", "policy=tova+decode,knorm+decode", "-o", out])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("'knorm+decode': eviction during decoding is defined for tova and h2o only"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testBadLabOptionsFailInOneLine() throws {
        let dir = try CLI.tempDir()
        let text = dir.appendingPathComponent("text.txt")
        try "Some text to read.".write(to: text, atomically: true, encoding: .utf8)
        for args in [["--policy", "h2o"], ["--policy", "h2o", "--budget", "8", "--ratio", "0.5"], ["--budget", "8"],
                     ["--policy", "h2o", "--ratio", "2"], ["--policy", "h2o", "--budget", "4", "--sink", "4", "--recent", "4"],
                     ["--policy", "snapkv", "--budget", "8", "--capacity", "64"], ["--policy", "nonesuch", "--budget", "8"],
                     ["--policy", "streaming", "--budget", "8", "--decode-eviction"], ["--decode-eviction"],
                     ["--policy", "h2o", "--ratio", "0.5", "--lab-setting", "kvpress"], ["--oracle-chunk"], ["--per-query-head"],
                     ["--policy", "h2o", "--ratio", "0.5", "--causal", "--lab-setting", "kvpress", "--oracle-chunk"]] {
            let r = try CLI.run(["run", "--input", text.path, "--question", "q"] + args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            let said = r.stderr.lowercased()
            XCTAssertTrue(["policy", "budget", "ratio", "sink", "setting"].contains { said.contains($0) }, "\(args): \(r.stderr)")
        }
    }

    /// `bench eviction-lab --setting parallelcomp`: point by point against shared chunk passes,
    /// identical (it exits non-zero when they differ); --oracle-chunk is refused in the kvpress setting.
    /// Two paths compared on one model: the tiny test model serves.
    func testBenchParallelCompSettingIsIdentical() throws {
        let model = try TinyModel.path()
        let r = try CLI.run(["bench", "eviction-lab", "--model", model, "--setting", "parallelcomp", "--tokens", "300", "--chunk-tokens", "96",
                             "--policies", "knorm,random", "--ratios", "0.5", "--max-tokens", "2", "--oracle-chunk", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let row = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(row["identical"] as? Bool, true)
        XCTAssertEqual(row["points"] as? Int, 2)
        XCTAssertGreaterThan(row["chunks"] as? Int ?? 0, 2)
        let bad = try CLI.run(["bench", "eviction-lab", "--model", model, "--oracle-chunk"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--oracle-chunk is for --setting parallelcomp"), bad.stderr)
    }

    /// ExpectedAttention on Gemma 3 (per-head QK norm) is refused as kvpress refuses it: one line
    /// naming the model and the reason, a non-zero exit, and no output started.
    func testExpectedAttentionIsRefusedOnGemma3InOneLine() throws {
        let gemma = (ProcessInfo.processInfo.environment["BIASPROBE_CACHE"] ?? (NSHomeDirectory() + "/.cache/biasprobe")) + "/gemma-3-270m-q4_k_m.gguf"
        guard FileManager.default.fileExists(atPath: gemma) else { throw XCTSkip("Gemma 3 model missing at \(gemma): run scripts/setup.sh") }
        let dir = try CLI.tempDir()
        let text = dir.appendingPathComponent("text.txt"), out = dir.appendingPathComponent("lab.jsonl").path
        try "Some text to read.".write(to: text, atomically: true, encoding: .utf8)
        for args in [["lab", "run", "--model", "gemma3", "--policies", "knorm,expected-attention", "--examples", "1", "--quiet", "--out", out],
                     ["run", "--model", "gemma3", "--input", text.path, "--question", "q", "--policy", "expected-attention", "--ratio", "0.5",
                      "--causal", "--lab-setting", "kvpress", "--json"]] {
            let r = try CLI.run(args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            let lines = r.stderr.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            XCTAssertEqual(lines.count, 1, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("expected-attention cannot run on") && r.stderr.contains("gemma3"), r.stderr)
            XCTAssertEqual(r.stdout, "", "\(args)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
