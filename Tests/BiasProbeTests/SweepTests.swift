import Foundation
import XCTest

/// `biasprobe sweep` and `plot sweep`, run as users run them, on the tiny test model: each check
/// compares the sweep with `eval` on the same model, or reads files and refusals.
final class SweepTests: XCTestCase {
    var dir: URL!
    var model = ""
    override func setUpWithError() throws {
        model = try TinyModel.path()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sweep-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { if let dir { try? FileManager.default.removeItem(at: dir) } }

    var common: [String] { ["--model", model, "--length", "512", "--chunk-tokens", "128", "--depths", "0.5", "--tasks", "passkey", "--quiet"] }

    /// A two-point sweep: each point's verdict matches `eval` on the same example, the file holds
    /// what the schema says, a rerun resumes without work, and more values extend it.
    func testSweepMatchesEvalAndResumes() throws {
        let out = dir.appendingPathComponent("s.h5").path
        let r = try CLI.run(["sweep"] + common + ["--vary", "keep-chunks=1,2", "-o", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(lines.count, 3, r.stdout)   // two points and a summary
        for (k, line) in zip(["1", "2"], lines) {
            let e = try CLI.run(["eval", "passkey", "--model", model, "--lengths", "512", "--chunk-tokens", "128", "--depths", "0.5",
                                 "--keep-chunks", k, "--quiet", "--json"])
            XCTAssertEqual(e.status, 0, e.stderr)
            let ex = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(e.stdout.split(separator: "\n")[0].utf8)) as? [String: Any])
            XCTAssertEqual(line["passkey_accuracy"] as? Double, (ex["correct"] as? Bool) == true ? 1 : 0, "keep-chunks=\(k)")
            let kept = (ex["kept_chunks"] as? [Int]) ?? [], needle = ex["needle_chunk"] as? Int
            XCTAssertEqual(line["needle_kept"] as? Double, needle.map { kept.contains($0) } == true ? 1 : 0)
            let kv = try XCTUnwrap(line["kv_bytes"] as? Double)
            XCTAssertEqual(kv, ex["kv_bytes"] as? Double, "keep-chunks=\(k)")
            XCTAssertGreaterThan(kv, 0)
            let mass = try XCTUnwrap(line["needle_mass"] as? Double)
            XCTAssertTrue(mass > 0 && mass < 1, "needle mass \(mass)")
        }
        let check = try CLI.python("""
            import h5py, sys
            f = h5py.File(sys.argv[1], 'r')
            assert f.attrs['format'] == 'biasprobe-sweep' and f.attrs['format_version'] == 2
            assert list(f.attrs['parameters']) == ['keep-chunks']
            assert [x.decode() for x in f['points/keep-chunks'][:]] == ['1', '2']
            assert f['results/correct'].shape == (2, 1) and f['results/needle_mass'].shape == (2, 1) and f['results/kv_bytes'].shape == (2, 1)
            # Bytes, not getrusage's kilobytes: even the tiny model's process passes 10 MB.
            assert (f['points/peak_rss_bytes'][:] > 10e6).all(), f['points/peak_rss_bytes'][:]
            import xarray as xr
            for g, dims in [('examples', {'example': 1}), ('points', {'point': 2}), ('results', {'point': 2, 'example': 1})]:
                ds = xr.open_dataset(sys.argv[1], engine='h5netcdf', group=g)
                assert dict(ds.sizes) == dims, (g, dict(ds.sizes))
            tree = xr.open_datatree(sys.argv[1], engine='h5netcdf')
            r = tree['results'].to_dataset()
            assert r.correct.dims == ('point', 'example') and list(r.point.values) == [0, 1], r
            assert [str(t) for t in tree['examples'].task.values] == ['passkey']
            print('ok')
            """, args: [out])
        XCTAssertEqual(check.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "ok", check.stderr)

        let again = try CLI.run((["sweep"] + common + ["--vary", "keep-chunks=1,2", "-o", out]).filter { $0 != "--quiet" })
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("resuming: 2 of 2 points"), again.stderr)
        XCTAssertFalse(again.stderr.contains("sweep ["), "a finished sweep must not run examples again")

        let more = try CLI.run(["sweep"] + common + ["--vary", "keep-chunks=1,2,3", "-o", out])
        XCTAssertEqual(more.status, 0, more.stderr)
        XCTAssertEqual(more.stdout.split(separator: "\n").filter { $0.hasPrefix("| 1 ") || $0.hasPrefix("| 2 ") || $0.hasPrefix("| 3 ") }.count, 3, more.stdout)

        // A file from before the official defaults (format 1) is never resumed.
        let v1 = dir.appendingPathComponent("v1.h5").path
        try FileManager.default.copyItem(atPath: out, toPath: v1)
        XCTAssertEqual(try CLI.python("import h5py,sys\nf=h5py.File(sys.argv[1],'r+'); f.attrs['format_version']=1; f.close()", args: [v1]).status, 0)
        let old = try CLI.run(["sweep"] + common + ["--vary", "keep-chunks=1,2,3", "-o", v1])
        XCTAssertEqual(old.status, 1)
        XCTAssertTrue(old.stderr.contains("before the official ParallelComp defaults") && old.stderr.contains("--restart"), old.stderr)

        let other = try CLI.run(["sweep"] + common.map { $0 == "0.5" ? "0.25" : $0 } + ["--vary", "keep-chunks=1", "-o", out])
        XCTAssertNotEqual(other.status, 0)
        XCTAssertTrue(other.stderr.hasPrefix("Error: ") && other.stderr.contains("--restart"), other.stderr)

        let png = dir.appendingPathComponent("k.png").path
        let p = try CLI.run(["plot", "sweep", "--sweep", out, "--x", "keep-chunks", "-o", png])
        XCTAssertEqual(p.status, 0, p.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: png))
        let bad = try CLI.run(["plot", "sweep", "--sweep", out, "--x", "lambda"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("not a parameter of this sweep"), bad.stderr)
    }

    /// Bad axes are refused in one line before any work.
    func testBadAxes() throws {
        for (axis, needle) in [("speed=1,2", "is not NAME=V1,V2"), ("keep-chunks=0", "whole number >= 1"), ("kernel=4", "not odd"),
                               ("lambda=2", "between 0 and 1"), ("calibration=sink:0-99", "outside the model")] {
            let extra = axis.hasPrefix("kernel") ? ["--vary", "capacity=64"] : []
            let r = try CLI.run(["sweep"] + common + ["--vary", axis] + extra + ["-o", dir.appendingPathComponent("bad.h5").path])
            XCTAssertNotEqual(r.status, 0, axis)
            XCTAssertTrue(r.stderr.hasPrefix("Error: ") && r.stderr.contains(needle), "\(axis): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad.h5").path))
        }
    }
}
