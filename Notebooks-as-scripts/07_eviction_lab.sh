#!/usr/bin/env bash
# Notebook 7: the eviction lab. Which KV-eviction policy keeps what a task needs, with intervals?
#
# `biasprobe lab run` over RULER's synthetic tasks (docs/eviction-lab.md), every example its own
# haystack seed and depth, in the two standard settings:
#   - kvpress (SETTINGS has kvpress): one causal context of KV_LENGTH tokens (default 4k, inside
#     both default models' trained context), prefilled once; each (policy, kept ratio) point
#     compresses it before the question, as kvpress does. KV_EXAMPLES per task (default 50).
#   - parallelcomp (SETTINGS has parallelcomp): per-chunk eviction in ParallelComp's chunk passes
#     at PC_LENGTH (default 16k) with --oracle-chunk, so the evidence chunk is always kept and
#     eviction is measured apart from chunk selection. PC_EXAMPLES per task (default 20).
# Then `biasprobe lab report` writes the ranking (paired bootstrap intervals against off, exact
# McNemar between policies, an order only where intervals separate), the band accounting and the
# limits, and exports the rows in kvpress's leaderboard layout (kvpress-layout/).
#
# TASKS, POLICIES, RATIOS and MAX_TOKENS (tokens generated per point; default RULER's per task)
# narrow or widen the grid; PROCESSES (default 1) runs that many shards of each setting side by side.
# The defaults are the issue's full grid: hours on a 2-core host (`lab run` prints its estimate
# on its plan line). The JSONL files resume: stop with Ctrl-C and run this script again.
# MODEL=gemma3 runs it on Gemma 3 (outputs under outputs/07_eviction_lab/<model>/).
source "$(dirname "$0")/_common.sh"
OUT=$(out_dir 07_eviction_lab)
mkdir -p "$OUT"
SETTINGS="${SETTINGS:-kvpress,parallelcomp}"
FULL_TASKS=niah_single_2,niah_multikey_1,niah_multivalue,ruler_vt,ruler_cwe
FULL_POLICIES=streaming,h2o,tova,snapkv,pyramidkv,knorm,random,expected-attention
FULL_RATIOS=0.25,0.5,0.75,0.875
# POLICIES unset: lab run's own default list, which leaves expected-attention out on QK-norm
# models (Gemma 3) with a note, as kvpress refuses them.
TASKS="${TASKS:-$FULL_TASKS}" RATIOS="${RATIOS:-$FULL_RATIOS}"
# cut_from FULL CHOSEN: " a, b" for the items of FULL not in CHOSEN (empty when none).
cut_from() { local x out=""; for x in ${1//,/ }; do case ",$2," in *",$x,"*) ;; *) out+=" $x" ;; esac; done; echo -n "$out"; }
KV_LENGTH="${KV_LENGTH:-4k}" KV_EXAMPLES="${KV_EXAMPLES:-50}"
PC_LENGTH="${PC_LENGTH:-16k}" PC_EXAMPLES="${PC_EXAMPLES:-20}"
PROCESSES="${PROCESSES:-1}"

# lab_run FILE ARGS...: one setting's rows into FILE, in PROCESSES shards run side by side
# (each resumes its own part; the report reads the parts).
lab_run() {
    local file="$1"; shift
    local common=(lab run --tasks "$TASKS" ${POLICIES:+--policies "$POLICIES"} --ratios "$RATIOS" ${MAX_TOKENS:+--max-tokens "$MAX_TOKENS"} -o "$file" "$@")
    if [ "$PROCESSES" -le 1 ]; then "$BP" "${common[@]}"; return; fi
    local pids=() i
    for i in $(seq 1 "$PROCESSES"); do
        "$BP" "${common[@]}" --threads 1 --shard "$i/$PROCESSES" & pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
}
# The files the report reads: the setting's file, or its shard parts.
lab_files() { if [ "$PROCESSES" -le 1 ]; then echo "$1"; else ls "${1%.jsonl}".part-*-of-"$PROCESSES".jsonl; fi; }

FILES=()
case ",$SETTINGS," in *,kvpress,*)
    lab_run "$OUT/kvpress.jsonl" --setting kvpress --length "$KV_LENGTH" --examples "$KV_EXAMPLES"
    FILES+=($(lab_files "$OUT/kvpress.jsonl")) ;;
esac
case ",$SETTINGS," in *,parallelcomp,*)
    lab_run "$OUT/parallelcomp.jsonl" --setting parallelcomp --oracle-chunk --length "$PC_LENGTH" --examples "$PC_EXAMPLES"
    FILES+=($(lab_files "$OUT/parallelcomp.jsonl")) ;;
esac

body() {
    echo "# Eviction lab: $MODEL_NAME"
    echo
    case ",$SETTINGS," in *,kvpress,*) echo "- kvpress setting: one causal context of $KV_LENGTH tokens, $KV_EXAMPLES examples per task." ;; esac
    case ",$SETTINGS," in *,parallelcomp,*) echo "- ParallelComp setting, the evidence chunk always kept: $PC_LENGTH tokens, $PC_EXAMPLES examples per task." ;; esac
    echo "Tasks: $TASKS. Policies: ${POLICIES:-the default list of lab run} at kept ratios $RATIOS, each against \`off\` on the same examples."
    local cut
    cut=$(cut_from "$FULL_TASKS" "$TASKS")$(cut_from "$FULL_POLICIES" "${POLICIES:-$FULL_POLICIES}")$(cut_from "$FULL_RATIOS" "$RATIOS")
    [ -n "$cut" ] && echo "Cut from the full grid to fit the compute (docs/eviction-lab.md, \"What the full grid costs\"):$cut."
    echo "The kvpress-layout export is in [kvpress-layout/](kvpress-layout/)."
    echo
    "$BP" lab report "${FILES[@]}" --export "$OUT/kvpress-layout" --model "$MODEL_TAG"
}
report "$OUT/report.md" body
