#!/usr/bin/env bash
# Notebook 7: the eviction lab. Which keys does each KV-eviction policy keep, and what does it cost?
#
# Nine policies (docs/eviction-lab.md) x three budgets (keys kept per 384-token chunk and KV head)
# over four tasks at 8K tokens: pass key, multi-key needle, JSON key-value retrieval and the
# perplexity of a held-out continuation, one example each at depth 0.5 (TASKS, DEPTHS, POLICIES,
# BUDGETS, LENGTH override; add mv-niah,vt to TASKS). Each policy evicts in every chunk pass where
# ParallelComp's SnapKV runs. Beside them, by default:
#   - two references (REFERENCES): 'off', ParallelComp with no eviction at all (the official
#     default), and 'calibration', ParallelComp's own eviction, the paper's band calibration
#     (--calibration paper: per chunk, middle band in the first layer quarter, recent in the
#     second, sink in the last, keys above lambda 0.1). Neither has a budget: every budget
#     column of theirs is one run, copied.
#   - TOVA and H2O evicting during decoding too, as their papers do (DECODE_POLICIES:
#     tova+decode, h2o+decode = --decode-eviction; answer and ppl NLL are then scored token by
#     token with the eviction).
# Then one trace per policy at budget 64 shows what each keeps by band and layer depth
# (TRACES_RUN=0 skips it).
#
# On the shared 2-core host one 8K example costs 30-150 s without shared chunk scores, so the
# defaults are small: 33 points x 4 examples (27 distinct).
#
# The sweep file is resumable: stop it with Ctrl-C and run this script again.
source "$(dirname "$0")/_common.sh"
OUT=$(out_dir 07_eviction_lab)
mkdir -p "$OUT"
SWEEP="${SWEEP_FILE:-$OUT/sweep.h5}"
LENGTH="${LENGTH:-8k}"
# Policies at their reference settings (docs/eviction-lab.md); pc-snapkv is ParallelComp's own.
POLICIES="${POLICIES:-streaming,h2o,tova,snapkv,snapkv-kvpress,pc-snapkv,pyramidkv,knorm,random}"
# LAB_FLAGS picks the setting: "" (ParallelComp, per-chunk eviction), "--oracle-chunk" (the
# evidence chunk always kept), or "--causal --lab-setting kvpress" (one context inside the
# trained context, compressed before the question; use LENGTH=4k with SmolLM2 there).
LAB_FLAGS="${LAB_FLAGS-}"
REFERENCES="${REFERENCES-off,calibration}"
DECODE_POLICIES="${DECODE_POLICIES-tova+decode,h2o+decode}"
GRID="$(echo "$REFERENCES,$POLICIES,$DECODE_POLICIES" | sed 's/^,*//; s/,*$//; s/,,*/,/g')"
TASKS="${TASKS:-passkey,mk-niah,kv,ppl}"
DEPTHS="${DEPTHS:-0.5}"
BUDGETS="${BUDGETS:-32,64,128}"
START=$(date +%s)

# Step 1: the comparison. keep-chunks 2 so that eviction decides what the question reads.
"$BP" sweep --length "$LENGTH" --chunk-tokens 384 --score-tokens 16 --keep-chunks 2 \
    --tasks "$TASKS" --depths "$DEPTHS" \
    --policy snapkv --budget 64 $LAB_FLAGS \
    --vary "policy=$GRID" --vary "budget=$BUDGETS" \
    -o "$SWEEP" > "$OUT/table.md"
SWEPT=$(date +%s)

# Step 2: what each policy keeps, one trace per policy at 2K tokens (same input), and the figure.
TRACES=""
for p in $([ "${TRACES_RUN:-1}" = 1 ] && echo "${POLICIES//,/ }" | sed 's/\boff\b//; s/\bcalibration\b//'); do
    "$BP" trace --context 2k --chunk-tokens 384 --keep-chunks 2 --policy "$p" --budget 64 \
        --no-prefill-rows --quiet -o "$OUT/trace-$p.h5"
    TRACES="$TRACES${TRACES:+,}$OUT/trace-$p.h5"
done
[ -n "$TRACES" ] && "$BP" plot policies --traces "$TRACES" -o "$OUT/policies.png"
"$BP" plot sweep --sweep "$SWEEP" --x budget --y policy --metric accuracy -o "$OUT/accuracy-policy-budget.png"
"$BP" plot sweep --sweep "$SWEEP" --x budget --y policy --metric answer_nll -o "$OUT/answer-nll-policy-budget.png"
"$BP" plot sweep --sweep "$SWEEP" --x budget --y policy --metric ppl_nll -o "$OUT/ppl-nll-policy-budget.png"
END=$(date +%s)

# Step 3: the report.
body() {
  echo "# Eviction lab: $MODEL_NAME, $LENGTH tokens"
  echo
  echo "Sweep wall time $((SWEPT - START)) s, traces and figures $((END - SWEPT)) s."
  echo "384-token chunks, 2 kept; budgets are keys kept per chunk and head, 4 sink and 8 recent keys protected."
  echo
  echo "Reference rows: \`off\` is ParallelComp with no eviction (the official default: every kept chunk's keys reach the question);"
  echo "\`calibration\` is ParallelComp's own eviction, the paper's recipe (\`--calibration paper\`: in every chunk pass, keys whose"
  echo "attention from the last question row exceeds lambda 0.1 are evicted from the middle band in the first layer quarter, the"
  echo "recent band in the second and the sink band in the last; heads equalised). Neither has a budget: their three budget rows"
  echo "are one run each, copied. \`tova+decode\` and \`h2o+decode\` are TOVA and H2O that also evict during decoding"
  echo "(\`--decode-eviction\`: one key per head and generated token; answer and ppl NLL scored token by token with it)."
  echo
  cat "$OUT/table.md"
  echo
  echo "Figures: [what each policy keeps by band and depth](policies.png), [accuracy by policy and budget](accuracy-policy-budget.png),"
  echo "[answer NLL](answer-nll-policy-budget.png), [held-out continuation NLL](ppl-nll-policy-budget.png)."
}
report "$OUT/report.md" body
rm -f "$OUT"/trace-*.h5
