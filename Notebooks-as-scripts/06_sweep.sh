#!/usr/bin/env bash
# Notebook 6: which eviction settings should this model use?
#
# A 27-point grid over the three choices that shape ParallelComp's memory and accuracy: how many
# chunks are kept for the question (keep-chunks), how many tokens SnapKV keeps per chunk and
# head (capacity), and which attention-bias calibration runs during the question prefill
# (none, the paper's band-per-layer-quarter setting, or sinks only in the last layer quarter).
# Every point answers the same 10 retrieval questions at 16K tokens: pass keys and needles in
# the essays at five depths. The base settings are the ones notebook 3 found to work for this
# 135M model: 384-token chunks, chunks scored on the last 16 question tokens.
#
# The sweep file is resumable: stop it with Ctrl-C and run this script again.
source "$(dirname "$0")/_common.sh"
OUT=$(out_dir 06_sweep)
mkdir -p "$OUT"
SWEEP="${SWEEP_FILE:-$OUT/sweep.h5}"

# Step 1: the sweep itself (about half an hour here; chunk scores are shared between points).
"$BP" sweep --length "${LENGTH:-16k}" --chunk-tokens 384 --score-tokens 16 \
    --vary keep-chunks=1,2,3 --vary capacity=off,128,64 \
    --vary "calibration=none;paper;sink:${QUARTERS##* }" \
    -o "$SWEEP" > "$OUT/table.md"

# Step 2: one figure per parameter (mean over the others) and the keep-chunks x capacity map.
"$BP" plot sweep --sweep "$SWEEP" -o "$OUT/sweep.png"
"$BP" plot sweep --sweep "$SWEEP" --x capacity --y keep-chunks --metric accuracy -o "$OUT/accuracy-capacity-keep.png"
"$BP" plot sweep --sweep "$SWEEP" --x capacity --y keep-chunks --metric needle_mass -o "$OUT/needle-mass-capacity-keep.png"

# Step 3: the report: the table, the rule's pick, and the figures.
body() {
  echo "# Eviction sweep: $MODEL_NAME, ${LENGTH:-16k}-token retrieval"
  echo
  echo "27 points x 10 examples: passkey and needle-in-essays, depths 0, 0.25, 0.5, 0.75, 1;"
  echo "384-token chunks scored on the last 16 question tokens."
  echo
  cat "$OUT/table.md"
  echo
  echo "Figures: [keep-chunks](sweep-keep-chunks.png), [capacity](sweep-capacity.png),"
  echo "[calibration](sweep-calibration.png), [accuracy by capacity and keep-chunks](accuracy-capacity-keep.png),"
  echo "[needle mass by capacity and keep-chunks](needle-mass-capacity-keep.png)."
}
report "$OUT/report.md" body
