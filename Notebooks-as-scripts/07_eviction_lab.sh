#!/usr/bin/env bash
# Notebook 7: the eviction lab. Which keys does each KV-eviction policy keep, and what does it cost?
#
# Seven policies (docs/eviction-lab.md) x three budgets (keys kept per 384-token chunk and head)
# over four tasks at 8K tokens: pass key, multi-key needle, JSON key-value retrieval and the
# perplexity of a held-out continuation, one example each at depth 0.5 (TASKS, DEPTHS, POLICIES,
# BUDGETS, LENGTH override; add 'off' to POLICIES for ParallelComp without eviction, and mv-niah,vt
# to TASKS). Each policy evicts in every chunk pass where ParallelComp's SnapKV runs. Then one
# trace per policy at budget 64 shows what each keeps by band and layer depth (TRACES_RUN=0 skips it).
#
# On the shared 2-core host one 8K example costs 30-150 s without shared chunk scores, so the
# defaults are small: 21 points x 4 examples.
#
# The sweep file is resumable: stop it with Ctrl-C and run this script again.
source "$(dirname "$0")/_common.sh"
OUT=outputs/07_eviction_lab
mkdir -p "$OUT"
SWEEP="${SWEEP_FILE:-$OUT/sweep.h5}"
LENGTH="${LENGTH:-8k}"
POLICIES="${POLICIES:-streaming,h2o,tova,snapkv,pyramidkv,knorm,random}"
TASKS="${TASKS:-passkey,mk-niah,kv,ppl}"
DEPTHS="${DEPTHS:-0.5}"
BUDGETS="${BUDGETS:-32,64,128}"
START=$(date +%s)

# Step 1: the comparison. keep-chunks 2 so that eviction decides what the question reads.
"$BP" sweep --length "$LENGTH" --chunk-tokens 384 --score-tokens 16 --keep-chunks 2 \
    --tasks "$TASKS" --depths "$DEPTHS" \
    --policy snapkv --budget 64 --sink 4 --recent 8 \
    --vary "policy=$POLICIES" --vary "budget=$BUDGETS" \
    -o "$SWEEP" > "$OUT/table.md"
SWEPT=$(date +%s)

# Step 2: what each policy keeps, one trace per policy at 2K tokens (same input), and the figure.
TRACES=""
for p in $([ "${TRACES_RUN:-1}" = 1 ] && echo "${POLICIES//,/ }" | sed 's/\boff\b//'); do
    "$BP" trace --context 2k --chunk-tokens 384 --keep-chunks 2 --policy "$p" --budget 64 --sink 4 --recent 8 \
        --no-prefill-rows --quiet -o "$OUT/trace-$p.h5"
    TRACES="$TRACES${TRACES:+,}$OUT/trace-$p.h5"
done
[ -n "$TRACES" ] && "$BP" plot policies --traces "$TRACES" -o "$OUT/policies.png"
"$BP" plot sweep --sweep "$SWEEP" --x budget --y policy --metric accuracy -o "$OUT/accuracy-policy-budget.png"
"$BP" plot sweep --sweep "$SWEEP" --x budget --y policy --metric answer_nll -o "$OUT/answer-nll-policy-budget.png"
"$BP" plot sweep --sweep "$SWEEP" --x budget --y policy --metric ppl_nll -o "$OUT/ppl-nll-policy-budget.png"
END=$(date +%s)

# Step 3: the report.
{
  echo "# Eviction lab: SmolLM2-135M-Instruct, $LENGTH tokens"
  echo
  echo "Command: \`Notebooks-as-scripts/07_eviction_lab.sh\`. Sweep wall time $((SWEPT - START)) s, traces and figures $((END - SWEPT)) s."
  echo "384-token chunks, 2 kept; budgets are keys kept per chunk and head, 4 sink and 8 recent keys protected."
  echo
  cat "$OUT/table.md"
  echo
  echo "Figures: [what each policy keeps by band and depth](policies.png), [accuracy by policy and budget](accuracy-policy-budget.png),"
  echo "[answer NLL](answer-nll-policy-budget.png), [held-out continuation NLL](ppl-nll-policy-budget.png)."
} > "$OUT/report.md"
rm -f "$OUT"/trace-*.h5
echo "wrote $OUT/report.md" >&2
