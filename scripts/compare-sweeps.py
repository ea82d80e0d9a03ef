#!/usr/bin/env python3
"""Compare a merged sweep file with the unsharded run of the same command, dataset by dataset.

Usage: compare-sweeps.py UNSHARDED.h5 MERGED.h5

Datasets are compared byte for byte (NaN equals NaN with the same bits). Those that record how
and where the work ran are expected to differ and are reported, not failed: per-example
seconds, peak RSS, and chunks prefilled/reused (each process has its own chunk-score memo, so
only their sum must match). Exit status 0 when everything else is identical.
"""
import sys
import h5py
import numpy as np

TIMING = {"results/seconds", "points/seconds", "points/peak_rss_bytes", "points/peak_rss_gb",
          "points/chunks_prefilled", "points/chunks_reused"}
EXTRA_ATTRS = {"merged_parts", "merged_hosts"}


def datasets(f):
    out = {}
    f.visititems(lambda name, obj: out.__setitem__(name, obj) if isinstance(obj, h5py.Dataset) else None)
    return out


def raw(d):
    a = d[()]
    if d.dtype.kind == "O" or h5py.check_string_dtype(d.dtype):
        return [x.decode() if isinstance(x, bytes) else str(x) for x in np.ravel(a)], d.shape
    return np.ascontiguousarray(a).tobytes(), d.shape


def main(a_path, b_path):
    a, b = h5py.File(a_path, "r"), h5py.File(b_path, "r")
    da, db = datasets(a), datasets(b)
    failed = []
    if set(da) != set(db):
        failed.append(f"dataset names differ: only in {a_path}: {sorted(set(da) - set(db))}, only in {b_path}: {sorted(set(db) - set(da))}")
    same, differ_expected = [], []
    for name in sorted(set(da) & set(db)):
        equal = raw(da[name]) == raw(db[name])
        if equal:
            same.append(name)
        elif name in TIMING:
            differ_expected.append(name)
        elif da[name].dtype.kind == "f" and da[name].shape == db[name].shape:
            x, y = da[name][()], db[name][()]
            gap = np.nanmax(np.abs(x - y)) if x.size else 0
            failed.append(f"{name} differs (largest difference {gap:.3g}; were both runs given the same --threads?)")
        else:
            failed.append(f"{name} differs")
    if "points/chunks_prefilled" in da and "points/chunks_prefilled" in db:
        ta = da["points/chunks_prefilled"][()] + da["points/chunks_reused"][()]
        tb = db["points/chunks_prefilled"][()] + db["points/chunks_reused"][()]
        if not np.array_equal(ta, tb):
            failed.append(f"chunks_prefilled + chunks_reused differ ({ta.tolist()} vs {tb.tolist()})")
    attrs_a, attrs_b = set(a.attrs), set(b.attrs) - EXTRA_ATTRS
    if attrs_a != attrs_b:
        failed.append(f"root attributes differ: {sorted(attrs_a ^ attrs_b)}")
    for k in sorted(attrs_a & attrs_b):
        va, vb = a.attrs[k], b.attrs[k]
        if not np.array_equal(np.asarray(va), np.asarray(vb)):
            failed.append(f"attribute {k} differs")
    print(f"identical datasets: {len(same)} of {len(set(da) | set(db))} ({', '.join(same)})")
    print(f"differ as expected (timing, memory, per-process chunk memo): {', '.join(differ_expected) or 'none'}")
    print(f"attributes only in the merged file: {', '.join(sorted(set(b.attrs) & EXTRA_ATTRS)) or 'none'}")
    if failed:
        print("MISMATCH: " + "; ".join(failed))
        return 1
    print("comparison: merged file equals the unsharded run (all other datasets and attributes byte-identical)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
