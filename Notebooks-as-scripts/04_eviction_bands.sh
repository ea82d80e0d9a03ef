#!/usr/bin/env bash
# Notebook 4: which attention biases can be evicted, and in which layers? (the paper's Tables 6
# and 8 in miniature)
#
# The paper evicts the abnormally high-attention keys (mean attention from the last question row
# above lambda = 0.1) of one band - the sink (first 100 keys), the recent band (last 100) or the
# middle - in one quarter of the layers, and reports task accuracy. It finds shallow sinks
# essential for retrieval (T13), shallow recency important, and middle eviction harmless.
# Here: SmolLM2-135M (30 layers; quarters 0-6, 7-14, 15-22, 23-29), 16K-token pass-key and
# needle-in-essays questions at five depths, one kept chunk of up to 384 tokens cut at a sentence
# end (the settings notebook 3 found to work for this model), calibration over the combined cache
# during the question prefill. Besides accuracy we record the answer's
# teacher-forced NLL and the question's attention on the needle, which move before accuracy does.
source "$(dirname "$0")/_common.sh"
OUT=$(out_dir 04_eviction_bands)
mkdir -p "$OUT"
SWEEP="${SWEEP_FILE:-$OUT/bands.h5}"
Q="$QUARTERS"
RULES="none"
for band in sink recent middle all; do for q in $Q; do RULES+=";$band:$q"; done; done

# Step 1: 17 settings (no eviction, then 4 bands x 4 layer quarters), the same 10 questions each.
"$BP" sweep --length "${LENGTH:-16k}" --chunk-tokens 384 --split-by sentences \
    --vary "calibration=$RULES" -o "$SWEEP" > "$OUT/table.md"

# Step 2: every setting side by side.
"$BP" plot sweep --sweep "$SWEEP" --x calibration -o "$OUT/bands.png"

# Step 3: the band x quarter tables, as differences from no eviction.
report "$OUT/report.md" python3 - "$SWEEP" "$BP" $Q <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
cal = [x.decode() for x in f["points/calibration"][:]]
tasks = [x.decode() for x in f["examples/task"][:]]
correct, nll, mass = f["results/correct"][:], f["results/answer_nll"][:], f["results/needle_mass"][:]
evicted = None
i0 = cal.index("none")
def row(i):
    acc = {t: correct[i][[k for k, x in enumerate(tasks) if x == t]].mean() for t in ("passkey", "niah")}
    return acc, np.nanmean(nll[i]), np.nanmean(mass[i])
base = row(i0)
quarters = sys.argv[3:7]
import json, subprocess
info = json.loads(subprocess.run([sys.argv[2], "info", "--json", "--model", f.attrs["model"]], capture_output=True, text=True, check=True).stdout)
kinds = info.get("layer_kind") or []
glob = [i for i, k in enumerate(kinds) if k == "global"] if "local" in kinds else []
print("# Evicting one bias band in one layer quarter (Tables 6/8 in miniature)\n")
length = json.loads(f.attrs["settings"])["length"]
print(f"{info['name']}, {length // 1024}K-token contexts, {correct.shape[1]} questions per setting "
      "(pass key and needle in essays, depths 0-1), one kept chunk of up to 384 tokens cut at a sentence end, "
      f"lambda 0.1, band width 100; layer quarters {', '.join(quarters)} of {len(kinds) or info['layers']}"
      + (f" (global layers {', '.join(map(str, glob))}, the rest sliding-window)" if glob else "") + ".\n")
print(f"No eviction: pass-key accuracy {base[0]['passkey']:.2f}, needle accuracy {base[0]['niah']:.2f}, "
      f"answer NLL {base[1]:.3f}, needle mass {base[2]:.4f}.\n")
for title, fn, fmt in [("Accuracy (pass key / needle)", lambda r: f"{r[0]['passkey']:.1f} / {r[0]['niah']:.1f}", None),
                       ("Change in the answer's NLL (nats per token; positive = worse)", lambda r: f"{r[1]-base[1]:+.3f}", None),
                       ("Change in attention mass on the needle (relative)", lambda r: f"{(r[2]-base[2])/base[2]:+.1%}", None)]:
    print(f"## {title}\n\n| band | " + " | ".join(f"layers {q}" for q in quarters) + " |\n|---|" + "---|" * 4)
    for band in ["sink", "recent", "middle", "all"]:
        cells = [fn(row(cal.index(f"{band}:{q}"))) for q in quarters]
        print(f"| {band} | " + " | ".join(cells) + " |")
    print()
print("Figure: [every setting](bands.png). Raw table: [table.md](table.md).")
PY
