#!/usr/bin/env bash
# Notebook 1: sinks per chunk.
#
# ParallelComp prefills every chunk on its own with positions restarting at 0, so each chunk
# should grow the attention sink a model grows at the start of any input. The official code then
# drops the first token of every kept chunk but the first when it combines the caches. Question:
# where does the sink mass go in global attention, and what changes if every chunk keeps its
# first token?
source "$(dirname "$0")/_common.sh"
OUT=outputs/01_sinks_per_chunk
mkdir -p "$OUT"

# Step 1: trace 16k tokens of the essays in 2K chunks, keeping 4 chunks, official combination.
"$BP" trace --context 16k --chunk-tokens 2048 --keep-chunks 4 --quiet --out "$OUT/dropped.h5"
# Step 2: the same with every kept chunk's first token kept (the T20 ablation).
"$BP" trace --context 16k --chunk-tokens 2048 --keep-chunks 4 --keep-every-first-token --quiet --out "$OUT/kept.h5"

# Step 3: figures: layer 12 bands (local vs global) and the positional profile, both settings.
for v in dropped kept; do
  "$BP" plot layer 12 --trace "$OUT/$v.h5" --out "$OUT/layer12-$v.png"
  "$BP" plot profile --layer 12 --trace "$OUT/$v.h5" --out "$OUT/profile12-$v.png"
done

# Step 4: the numbers: global sink mass per kept chunk, averaged over layers and heads.
python3 - "$OUT" <<'PY' > "$OUT/report.md"
import sys, h5py, numpy as np
out = sys.argv[1]
print("# Sinks per chunk\n")
for v in ("dropped", "kept"):
    f = h5py.File(f"{out}/{v}.h5", "r")
    g = f["global/band_mass"][...]          # [layer, head, chunk, band]
    l = f["local/band_mass"][...]
    kept = np.where(f["input/chunk_kept"][...] == 1)[0]
    S = f.attrs["sink_width"]
    print(f"## first tokens {v}\n")
    print("| chunk | local sink mass | global sink mass |\n|---|---|---|")
    for c in kept:
        print(f"| {c} | {np.nanmean(l[:, :, c, 0]):.3f} | {np.nanmean(g[:, :, c, 0]):.3f} |")
    print(f"\nSink = each chunk's first {S} keys; means over 30 layers x 9 heads.\n")
    print(f"![layer 12]({'layer12-' + v + '.png'}) ![profile]({'profile12-' + v + '.png'})\n")
PY
echo "wrote $OUT/report.md" >&2
