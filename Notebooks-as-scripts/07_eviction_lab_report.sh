#!/usr/bin/env bash
# Notebook 7's combined report: outputs/07_eviction_lab/report.md with both default models
# (SmolLM2 135M, Gemma 3 270M) and both settings, from the rows already in the JSONL parts.
# It runs no example: `07_eviction_lab.sh` (MODEL=..., PROCESSES=2) writes the rows and can be
# resumed; this script only reads them, so it can be re-run whenever more rows land.
# Each model's section is `biasprobe lab report` over that model's parts (its ranking with
# intervals first, then the band accounting and the limits) and refreshes its kvpress-layout
# export. A setting with rows missing is reported over the examples it has, and says so.
#   bash Notebooks-as-scripts/07_eviction_lab_report.sh        # BP=/path/to/biasprobe for a copy
source "$(dirname "$0")/_common.sh"
LAB=outputs/07_eviction_lab
TASKS_RUN=niah_single_2,niah_multikey_1,niah_multivalue,ruler_vt
KV_EXAMPLES="${KV_EXAMPLES:-50}" PC_EXAMPLES="${PC_EXAMPLES:-20}"

# count FILE...: the examples in the given parts: distinct (task, example) among the complete
# JSON lines (a shard still writing may leave half a line at the end).
count() {
    python3 - "$@" <<'PY'
import json, sys
seen = set()
for f in sys.argv[1:]:
    try: lines = open(f).read().splitlines()
    except OSError: continue
    for l in lines:
        try: r = json.loads(l)
        except ValueError: continue
        seen.add((r.get("task"), r.get("example")))
print(len(seen))
PY
}
# model_file TAG: the GGUF file a model name resolves to (`info --json`).
model_file() { BIASPROBE_MODEL="$1" "$BP" info --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["model"])'; }
# model_section TAG NAME DIR: one model's section, saying which rows are still missing.
model_section() {
    local tag="$1" name="$2" dir="$3" files=() kv pc file link
    kv=$(count "$dir"/kvpress.part-*.jsonl) pc=$(count "$dir"/parallelcomp.part-*.jsonl)
    file=$(model_file "$tag") || return 1
    local kv_want=$((4 * KV_EXAMPLES)) pc_want=$((4 * PC_EXAMPLES))
    echo "## $name (kvpress setting $kv of $kv_want examples, ParallelComp setting $pc of $pc_want)"
    echo
    echo "- Model file: \`$(basename "$file")\`, sha256 \`$(sha256sum "$file" | cut -d' ' -f1)\`."
    link="${dir#"$LAB"}"; link="./${link#/}"
    echo "- Rows: the JSONL parts in [$dir/]($link); the commands, binaries, hosts and wall times that wrote them are in"
    echo "  [provenance.md](provenance.md)."
    [ "$kv" -lt "$kv_want" ] && echo "- **The kvpress setting is incomplete** ($kv of $kv_want examples): its intervals are over the examples present and will narrow."
    [ "$pc" -lt "$pc_want" ] && echo "- **The ParallelComp setting is incomplete** ($pc of $pc_want examples)$([ "$pc" = 0 ] && echo ': not in this report; nothing below speaks for it')."
    if [ "$tag" = gemma3 ]; then
        echo "- Gemma 3's trained context is 32K, so at 16K its ParallelComp setting holds the whole input in one chunk"
        echo "  (the official chunk length): those rows measure eviction with the question in the pass, not chunk selection."
    fi
    echo
    for f in "$dir"/kvpress.part-*.jsonl "$dir"/parallelcomp.part-*.jsonl; do [ -s "$f" ] && files+=("$f"); done
    [ ${#files[@]} -gt 0 ] || return 0
    # The lab report's own headings move one level down under the model's.
    local out
    out=$("$BP" lab report "${files[@]}" --export "$dir/kvpress-layout" --model "$tag") || return 1
    printf '%s\n\n' "$out" | sed 's/^\(#\{1,\}\) /#\1 /'
}

body() {
    echo "# Eviction lab: SmolLM2 135M and Gemma 3 270M, kvpress and ParallelComp settings"
    echo
    echo "- Settings: kvpress, one causal context of 4k tokens compressed before the question, $KV_EXAMPLES examples per task;"
    echo "  ParallelComp, per-chunk eviction in the chunk passes at 16k with the evidence chunk always kept (\`--oracle-chunk\`),"
    echo "  $PC_EXAMPLES examples per task. Tasks: $TASKS_RUN (ruler_cwe cut to fit the compute, docs/eviction-lab.md)."
    echo "- Policies: lab run's default list at kept ratios 0.25, 0.5, 0.75, 0.875, each against \`off\` on the same examples"
    echo "  (expected-attention is left out on Gemma 3: kvpress refuses QK-norm models)."
    echo "- Each model's rows came from the 07 notebook's command with PROCESSES=2; several binaries and two hosts wrote them,"
    echo "  with the same numbers where compared (provenance.md names them). Small models: a ranking here need not transfer to 7-8B."
    echo
    model_section smollm2 "SmolLM2 135M Instruct" "$LAB" || return 1
    model_section gemma3 "Gemma 3 270M" "$LAB/gemma-3-270m-q4_k_m" || return 1
}
MODEL_FILE="$(model_file smollm2)"
MODEL_NAME="SmolLM2 135M Instruct (and Gemma 3 270M: its file and hash in its section)"
report "$LAB/report.md" body
