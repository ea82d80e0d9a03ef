#!/usr/bin/env python3
"""Shrinks a real biasprobe trace into a small, still valid seed for the trace fuzz target.

    python3 Fuzz/make_trace_seed.py TRACE.h5 OUT.h5 [LAYERS HEADS KEYS]

Keeps every root attribute and every dataset, cut to the first LAYERS layers and HEADS heads
(default 2 and 2) and the first KEYS keys of global/key_scores (default 16), with the
attributes and the /axes dimension scales changed to match. Written with the HDF5 1.8 file
format, as biasprobe writes (h5py's libver 'v108'), small datasets contiguous, large ones
chunked and deflated, so the seed has the same kinds of structures as a real trace.
"""
import sys

import h5py
import numpy as np

src, dst = sys.argv[1], sys.argv[2]
L, H, K = (int(x) for x in (sys.argv[3:6] + ["2", "2", "16"][len(sys.argv[3:6]):]))

with h5py.File(src, "r") as f, h5py.File(dst, "w", libver=("v108", "v108")) as g:
    sizes = {"layer": L, "head": H, "key": K}
    data = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and not name.startswith("axes/"):
            data[name] = obj
    f.visititems(visit)

    axes = {}
    for axis in ["layer", "head", "chunk", "band", "bin", "key"]:
        values = f["axes/" + axis][()]
        if axis in sizes:
            values = values[: sizes[axis]]
        d = g.create_dataset("axes/" + axis, data=values)
        d.make_scale(axis)
        axes[axis] = d

    for name, ds in sorted(data.items()):
        labels = [dim.label for dim in ds.dims]
        index = tuple(slice(0, sizes[l]) if l in sizes else slice(None) for l in labels)
        values = ds[()][index] if ds.ndim else ds[()]
        big = np.size(values) > 64
        out = g.create_dataset(name, data=values, compression="gzip" if big else None,
                               compression_opts=1 if big else None, shuffle=big)
        for i, label in enumerate(labels):
            out.dims[i].label = label
            if label in axes and axes[label].shape[0] == out.shape[i]:
                out.dims[i].attach_scale(axes[label])

    for k, v in f.attrs.items():
        g.attrs[k] = v
    g.attrs["layers"] = np.int64(L)
    g.attrs["heads"] = np.int64(H)
    g.attrs["kv_heads"] = np.int64(min(H, int(f.attrs["kv_heads"])))
