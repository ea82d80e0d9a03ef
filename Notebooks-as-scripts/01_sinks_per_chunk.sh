#!/usr/bin/env bash
# Notebook 1: sinks per chunk.
#
# ParallelComp prefills every chunk on its own with positions restarting at 0, so each chunk
# should grow the attention sink a model grows at the start of any input. The official code then
# drops the first token of every kept chunk but the first when it combines the caches. Question:
# where does the sink mass go in global attention, and what changes if every chunk keeps its
# first token?
source "$(dirname "$0")/_common.sh"
OUT=$(out_dir 01_sinks_per_chunk)
mkdir -p "$OUT"
# Layers to draw: 12 on the default model; on a model with sliding-window layers, its first global
# layer and the local layer before it.
PLOT_LAYERS="${PLOT_LAYERS:-$(printf '%s' "$MODEL_INFO" | python3 -c '
import json, sys
k = json.load(sys.stdin).get("layer_kind") or []
g = [i for i, x in enumerate(k) if x == "global"]
print(f"{g[0] - 1} {g[0]}" if g and "local" in k and g[0] > 0 else 12)')}"

# Step 1: trace 16k tokens of the essays in 2K chunks, keeping 4 chunks, official combination.
"$BP" trace --context 16k --chunk-tokens 2048 --keep-chunks 4 --quiet --force --out "$OUT/dropped.h5"
# Step 2: the same with every kept chunk's first token kept (the T20 ablation).
"$BP" trace --context 16k --chunk-tokens 2048 --keep-chunks 4 --keep-every-first-token --quiet --force --out "$OUT/kept.h5"

# Step 3: figures: layer 12 bands (local vs global) and the positional profile, both settings.
for v in dropped kept; do for l in $PLOT_LAYERS; do
  "$BP" plot layer "$l" --trace "$OUT/$v.h5" --out "$OUT/layer$l-$v.png"
  "$BP" plot profile --layer "$l" --trace "$OUT/$v.h5" --out "$OUT/profile$l-$v.png"
done; done

# Step 4: the numbers: global sink mass per kept chunk, averaged over layers and heads.
report "$OUT/report.md" python3 - "$OUT" $PLOT_LAYERS <<'PY'
import sys, h5py, numpy as np
out, layers = sys.argv[1], sys.argv[2:]
print("# Sinks per chunk\n")
for v in ("dropped", "kept"):
    f = h5py.File(f"{out}/{v}.h5", "r")
    g = f["global/band_mass"][...]          # [layer, head, chunk, band]
    l = f["local/band_mass"][...]
    kept = np.where(f["input/chunk_kept"][...] == 1)[0]
    S = f.attrs["sink_width"]
    kinds = [x.decode() if isinstance(x, bytes) else str(x) for x in f.attrs.get("layer_kind", [])]
    if v == "dropped":
        print(f"Model: {f.attrs['model_name'] if 'model_name' in f.attrs else f.attrs['model']}.\n")
    print(f"## first tokens {v}\n")
    # On a model with sliding-window layers, local and global layers are shown apart: a local
    # layer's question row cannot see a chunk's first keys once they are a window away.
    groups = [("all layers", list(range(l.shape[0])))]
    if "local" in kinds and "global" in kinds:
        groups += [(f"{k} layers", [i for i, x in enumerate(kinds) if x == k]) for k in ("local", "global")]
    tag = (lambda n: f" ({n})") if len(groups) > 1 else (lambda n: "")
    print("| chunk | " + " | ".join(f"local sink mass{tag(n)} | global sink mass{tag(n)}" for n, _ in groups) + " |")
    print("|---|" + "---|---|" * len(groups))
    for c in kept:
        print(f"| {c} | " + " | ".join(f"{np.nanmean(l[ls, :, c, 0]):.3f} | {np.nanmean(g[ls, :, c, 0]):.3f}" for _, ls in groups) + " |")
    print(f"\nSink = each chunk's first {S} keys; means over {l.shape[0]} layers x {l.shape[1]} heads"
          + (f" (global layers: {', '.join(str(i) for i, x in enumerate(kinds) if x == 'global')})" if "local" in kinds else "") + ".\n")
    print(" ".join(f"![layer {L}](layer{L}-{v}.png) ![profile](profile{L}-{v}.png)" for L in layers) + "\n")
PY
