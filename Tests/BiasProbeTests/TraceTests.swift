import XCTest

/// Traces as researchers read them: through h5py.
final class TraceTests: XCTestCase {
    /// The golden layout traced through the whole pipeline matches the float64 reference.
    func testGoldenLayoutTraceMatchesReference() throws {
        try CLI.requireModel()
        let dir = try CLI.tempDir()
        let trace = try CLI.goldenTrace(in: dir)
        let script = """
        import sys, json, h5py, numpy as np
        g = json.load(open(sys.argv[2]))
        f = h5py.File(sys.argv[1], 'r')
        gold = lambda k: np.array(g[k])[..., [0, 2, 1]]   # golden order sink, recent, middle
        worst = 0.0
        for ds, k in [('global/band_mass_last', 'query_mass_last'), ('global/band_mass', 'query_mass_all'),
                      ('local/prefill_band_mass', 'prefill_abs'), ('local/prefill_band_mass_rel', 'prefill_rel')]:
            worst = max(worst, float(np.abs(f[ds][...] - gold(k)).max()))
        worst = max(worst, float(np.abs(f['global/query_mass'][...] - np.array(g['query_self_all'])).max()))
        print(worst)
        """
        let r = try CLI.python(script, args: [trace, CLI.goldenDir.appendingPathComponent("attn_mass.json").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let worst = Double(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? .infinity
        XCTAssertLessThanOrEqual(worst, 1e-5, "worst abs difference from attn_mass.json")
    }

    /// Every dataset documented in docs/trace-format.md exists with its axis names, and the
    /// document is the one the program generates.
    func testEveryDocumentedDatasetIsThereWithAxisNames() throws {
        try CLI.requireModel()
        let doc = try String(contentsOf: CLI.packageRoot.appendingPathComponent("docs/trace-format.md"), encoding: .utf8)
        let schema = try CLI.run(["inspect", "--schema"])
        XCTAssertEqual(schema.stdout, doc, "docs/trace-format.md is stale: regenerate with `biasprobe inspect --schema > docs/trace-format.md`")
        let expected = TraceSchemaDims.fromDocs().sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        XCTAssertGreaterThan(expected.count, 25)
        let dir = try CLI.tempDir()
        let trace = try CLI.goldenTrace(in: dir)
        let spec = try JSONSerialization.data(withJSONObject: expected.map { ["name": $0.0, "dims": $0.1] })
        let specPath = dir.appendingPathComponent("spec.json").path
        try spec.write(to: URL(fileURLWithPath: specPath))
        let script = """
        import sys, json, h5py
        f = h5py.File(sys.argv[1], 'r')
        bad = []
        for e in json.load(open(sys.argv[2])):
            if e['name'] not in f: bad.append('missing ' + e['name']); continue
            labels = [d.label for d in f[e['name']].dims]
            if labels != e['dims']: bad.append(e['name'] + ' has axes ' + str(labels))
        assert f.attrs['format'] == 'biasprobe-trace' and f.attrs['complete'] == 1
        print('\\n'.join(bad))
        """
        let r = try CLI.python(script, args: [trace, specPath])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "")
    }

    /// Every group opens in xarray (netCDF-4 through h5netcdf) with the schema's dimension names,
    /// and the tree gives them coordinates: the scales sit in the root group, where a group's
    /// variables find them.
    func testEveryGroupOpensInXarrayWithNamedDimensions() throws {
        try CLI.requireModel()
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let trace = try CLI.goldenTrace(in: dir)
        let schema = TraceSchemaDims.fromDocs()
        let specPath = dir.appendingPathComponent("dims.json").path
        try JSONSerialization.data(withJSONObject: schema).write(to: URL(fileURLWithPath: specPath))
        let script = """
        import sys, json, h5py, xarray as xr
        path, spec = sys.argv[1], json.load(open(sys.argv[2]))
        bad = []
        groups = sorted({name.split('/')[0] for name in spec})
        assert groups == ['decode', 'eviction', 'global', 'input', 'local'], groups
        for g in groups:
            ds = xr.open_dataset(path, engine='h5netcdf', group=g)
            for name, dims in spec.items():
                if name.split('/')[0] != g: continue
                v = name.split('/')[1]
                if v not in ds: bad.append('xarray: missing ' + name); continue
                if list(ds[v].dims) != dims: bad.append(name + ' has dims ' + str(ds[v].dims))
        tree = xr.open_datatree(path, engine='h5netcdf')
        f = h5py.File(path, 'r')
        L, H, C = int(f.attrs['layers']), int(f.attrs['heads']), int(f.attrs['chunks'])
        bm = tree['global'].to_dataset().band_mass
        if [str(b) for b in bm['band'].values] != ['sink', 'middle', 'recent']: bad.append('band coordinate ' + str(bm['band'].values))
        if [list(bm[d].values) for d in ('layer', 'head', 'chunk')] != [list(range(n)) for n in (L, H, C)]:
            bad.append('layer/head/chunk coordinates are not 0..n-1')
        kept = [int(c) for c in tree['input'].to_dataset()['kept'].values]
        if kept != [c for c in range(C) if f['input/chunk_kept'][c]]: bad.append('kept coordinate ' + str(kept))
        # A labelled selection gives the same numbers as h5py's positional read.
        import numpy as np
        if not np.allclose(bm.sel(band='recent', layer=3).values, f['global/band_mass'][3, :, :, 2], equal_nan=True): bad.append('sel differs')
        print('\\n'.join(bad))
        """
        let r = try CLI.python(script, args: [trace, specPath])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "")
    }

    /// The README's "read a trace in Python" block runs as printed, on a real trace named trace.h5.
    func testReadmePythonExampleRuns() throws {
        try CLI.requireModel()
        let readme = try String(contentsOf: CLI.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let marker = try XCTUnwrap(readme.range(of: "<!-- readme-python"), "README lost its Python example")
        let rest = readme[marker.upperBound...]
        let start = try XCTUnwrap(rest.range(of: "```python\n")), end = try XCTUnwrap(rest[start.upperBound...].range(of: "```"))
        let code = String(rest[start.upperBound..<end.lowerBound])
        XCTAssertLessThanOrEqual(code.split(separator: "\n").count, 6, "the README example should stay short")
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let trace = try CLI.goldenTrace(in: dir)
        try FileManager.default.moveItem(atPath: trace, toPath: dir.appendingPathComponent("trace.h5").path)
        let r = try CLI.launch("/usr/bin/env", ["python3", "-c", code], cwd: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("chunk_nll"), r.stdout)
    }

    /// A file that is not a trace, or a trace from a newer format, gives one line and exit 1.
    func testForeignAndNewerFilesAreRefused() throws {
        try CLI.requireModel()
        let dir = try CLI.tempDir()
        let notTrace = dir.appendingPathComponent("notes.txt").path
        try "hello".write(toFile: notTrace, atomically: true, encoding: .utf8)
        var r = try CLI.run(["inspect", notTrace])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("not a biasprobe trace"), r.stderr)

        let trace = try CLI.goldenTrace(in: dir)
        let newer = dir.appendingPathComponent("newer.h5").path
        try FileManager.default.copyItem(atPath: trace, toPath: newer)
        let bump = try CLI.python("import h5py,sys\nf=h5py.File(sys.argv[1],'r+'); f.attrs['format_version']=99; f.close()", args: [newer])
        XCTAssertEqual(bump.status, 0, bump.stderr)
        r = try CLI.run(["inspect", newer])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("format version 99"), r.stderr)
        XCTAssertEqual(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, r.stderr)
        r = try CLI.run(["inspect", trace])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// Ctrl-C and SIGKILL during a run leave no file that claims to be a finished trace, and the
    /// next run succeeds.
    func testInterruptedRunsLeaveNoTrace() throws {
        try CLI.requireModel()
        let dir = try CLI.tempDir()
        // Where each signal lands, by the run's own progress: in the first chunk's prefill (0.5 and
        // 1.5 CPU seconds in), and once the first chunk is done.
        let stages: [(Int32, String, Double)] = [(SIGINT, "", 0.5), (SIGKILL, "", 1.5), (SIGINT, "1/", 0)]
        for (sig, line, cpu) in stages {
            let p = try Child(["trace", "--context", "8k", "--chunk-tokens", "512", "--out", dir.appendingPathComponent("t.h5").path])
            p.waitForStderr { $0.contains("memory estimate") && (line.isEmpty || $0.contains(line)) }
            p.waitForCPU(cpu, from: p.cpuSeconds)
            XCTAssertTrue(p.isRunning, "the trace ended before signal \(sig): \(p.stderr.text)")
            kill(p.process.processIdentifier, sig)
            XCTAssertTrue(p.waitForExit(deadline: 120), "no exit after signal \(sig)")
            XCTAssertNotEqual(p.process.terminationStatus, 0, "signal \(sig) after '\(line)' and \(cpu) CPU s")
            let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            XCTAssertFalse(left.contains("t.h5"), "a trace was left after signal \(sig): \(left)")
        }
        let r = try CLI.run(["trace", "--context", "512", "--chunk-tokens", "256", "--max-tokens", "2", "--no-prefill-rows", "--quiet",
                             "--out", dir.appendingPathComponent("t.h5").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains("tmp") }, [])
        XCTAssertEqual(try CLI.run(["inspect", dir.appendingPathComponent("t.h5").path]).status, 0)
    }
}

/// Dataset name -> axis names, from the dataset table of docs/trace-format.md
/// (rows `| \`stage/name\` | axes | type | meaning |`).
enum TraceSchemaDims {
    static func fromDocs() -> [String: [String]] {
        let doc = (try? String(contentsOf: CLI.packageRoot.appendingPathComponent("docs/trace-format.md"), encoding: .utf8)) ?? ""
        var out: [String: [String]] = [:]
        for line in doc.split(separator: "\n") where line.hasPrefix("| `") && line.split(separator: "|").count == 4 {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells[0].contains("/") else { continue }
            out[cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] = cells[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        return out
    }
}
