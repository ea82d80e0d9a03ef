#!/usr/bin/env bash
# Notebook 3: pass-key retrieval against context length.
#
# SmolLM2-135M retrieves a pass key reliably only from about 1K tokens of context (at 2K it
# already misses some depths), so ParallelComp runs with 1K chunks and keeps one chunk, as the
# paper does for retrieval. `truncate` keeps the last chunk's worth of tokens; `full` runs plain
# causal attention over everything, with positions past the trained 8K context beyond 8k.
# LENGTHS and SEEDS can be overridden: a 128k row takes several minutes per example here.
source "$(dirname "$0")/_common.sh"
OUT=outputs/03_passkey_accuracy
mkdir -p "$OUT"
LENGTHS="${LENGTHS:-4k,16k}"
SEEDS="${SEEDS:-1}"
"$BP" eval passkey --lengths "$LENGTHS" --seeds "$SEEDS" --chunk-tokens 1024 \
    --method parallelcomp,truncate,full --json > "$OUT/results.jsonl"
python3 - "$OUT" <<'PY' > "$OUT/report.md"
import sys, json
rows = [json.loads(l) for l in open(sys.argv[1] + "/results.jsonl")]
summary = [r for r in rows if "summary" in r][0]["summary"]
print("# Pass-key accuracy (5 depths)\n\n| method | length | correct |\n|---|---|---|")
for s in summary:
    print(f"| {s['method']} | {s['length']} | {s['correct']}/{s['total']} |")
PY
echo "wrote $OUT/report.md" >&2
