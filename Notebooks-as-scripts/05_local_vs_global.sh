#!/usr/bin/env bash
# Notebook 5: recency against sink, and local against global attention.
#
# The paper (Fig. 4, section 4) says: recency bias is strong both when a chunk is read alone
# (local attention) and when the question reads every kept chunk at once (global attention), but
# weaker in global attention; and in global attention recency outweighs the sink. Question: where
# does this model's question put its attention, per layer, in each setting?
# Input: the 16K-token trace of notebook 1 (essays, 2K chunks, 4 kept, official combination);
# made here if it is missing.
source "$(dirname "$0")/_common.sh"
OUT=$(out_dir 05_local_vs_global)
mkdir -p "$OUT"
TRACE=$(out_dir 01_sinks_per_chunk)/dropped.h5
[ -f "$TRACE" ] || "$BP" trace --context 16k --chunk-tokens 2048 --keep-chunks 4 --quiet --out "$TRACE"

# Step 1: the overview figure: every layer and head, sink/middle/recent, local and global.
"$BP" plot overview --trace "$TRACE" --out "$OUT/overview.png"

# Step 2: per layer, the question's mass on the sink (first 100 keys of a chunk), the recent band
# (last 100) and the middle: locally (a chunk's own question rows, mean over kept chunks) and
# globally (summed over the kept chunks, so it is the share of the whole question's attention).
report "$OUT/report.md" python3 - "$TRACE" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
loc, glo = f["local/band_mass"][...], f["global/band_mass"][...]   # [layer, head, chunk, band]
kept = np.where(f["input/chunk_kept"][...] == 1)[0]
L = loc.shape[0]
l = np.nanmean(loc[:, :, kept, :], axis=(1, 2))           # [layer, band], per chunk
g = np.nansum(glo[:, :, kept, :], axis=2).mean(axis=1)    # [layer, band], all kept chunks together
gpc = g / len(kept)                                       # per kept chunk, comparable with local
print("# Recency against sink, local against global attention\n")
print(f"Model: {f.attrs['model_name']}. Trace: 16K tokens of essays, {f.attrs['chunks']} chunks of about 2K tokens, {len(kept)} kept; "
      f"sink = first {f.attrs['sink_width']} keys of a chunk, recent = last {f.attrs['recent_width']}; "
      f"means over the {loc.shape[1]} heads and the question's rows.\n")
kinds = [x.decode() if isinstance(x, bytes) else str(x) for x in f.attrs.get("layer_kind", [])]
rec_l, rec_g = (l[:, 2] > l[:, 0]).sum(), (g[:, 2] > g[:, 0]).sum()
print(f"- Recent band above sink: {rec_l} of {L} layers locally, {rec_g} of {L} globally.")
print(f"- Recent-band mass, mean over layers: local {l[:, 2].mean():.3f} per chunk; global {g[:, 2].mean():.3f} "
      f"for all {len(kept)} chunks together ({gpc[:, 2].mean():.3f} per chunk).")
print(f"- Sink mass, mean over layers: local {l[:, 0].mean():.3f} per chunk; global {g[:, 0].mean():.3f} together.")
print(f"- Middle mass, mean over layers: local {l[:, 1].mean():.3f}; global {g[:, 1].mean():.3f} together.\n")
if "local" in kinds and "global" in kinds:
    # Sliding-window layers: a question row sees only the last `window` positions, which under
    # ParallelComp's combined cache are every kept chunk's tail (the chunks share positions).
    win = max(int(w) for w in f.attrs["attention_window"])
    print(f"Sliding-window (local, window {win}) against global layers, means over each kind's layers:\n")
    print("| layers | local sink | local middle | local recent | global sink | global middle | global recent |\n|---|---|---|---|---|---|---|")
    for k in ("local", "global"):
        ls = [i for i, x in enumerate(kinds) if x == k]
        a, b = l[ls].mean(axis=0), g[ls].mean(axis=0)
        print(f"| {k} ({len(ls)}) | {a[0]:.3f} | {a[1]:.3f} | {a[2]:.3f} | {b[0]:.3f} | {b[1]:.3f} | {b[2]:.3f} |")
    print()
print("| layer | local sink | local middle | local recent | global sink | global middle | global recent |\n|---|---|---|---|---|---|---|")
for i in range(L):
    name = f"{i} ({kinds[i]})" if "local" in kinds else f"{i}"
    print(f"| {name} | {l[i,0]:.3f} | {l[i,1]:.3f} | {l[i,2]:.3f} | {g[i,0]:.3f} | {g[i,1]:.3f} | {g[i,2]:.3f} |")
print("\nLocal masses do not add to 1: the rest goes to the question's own tokens; global masses are "
      "summed over kept chunks, the rest again the question itself.\n")
print("![overview](overview.png)")
PY
