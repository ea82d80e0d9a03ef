# Shared by the notebook scripts: build once, then use the release binary.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# How this notebook was started, for its report: the script, its arguments and every setting a
# notebook reads from the environment (recorded before the defaults below fill them in).
NOTEBOOK="$(basename "$0" .sh)"
NOTEBOOK_COMMAND=""
for v in MODEL BP LENGTH LENGTHS CHUNK FULL_LENGTHS TRUNC_LENGTHS BASELINE_SEEDS REPORT_ONLY PROCESSES SWEEP_FILE \
         PLOT_LAYERS POLICIES LAB_FLAGS REFERENCES DECODE_POLICIES TASKS DEPTHS BUDGETS TRACES_RUN \
         SETTINGS RATIOS KV_LENGTH KV_EXAMPLES PC_LENGTH PC_EXAMPLES MAX_TOKENS; do
    if [ -n "${!v+x}" ]; then NOTEBOOK_COMMAND+="$v=$(printf '%q' "${!v}") "; fi
done
NOTEBOOK_COMMAND+="bash Notebooks-as-scripts/$NOTEBOOK.sh"
for a in "$@"; do NOTEBOOK_COMMAND+=" $(printf '%q' "$a")"; done
# The commit, and whether the code differed from it (outputs/ aside: notebooks rewrite those).
NOTEBOOK_COMMIT="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" NOTEBOOK_DIRTY=""
if [ -n "$(git status --porcelain --untracked-files=no -- Sources Package.swift Notebooks-as-scripts scripts 2>/dev/null)" ]; then
    NOTEBOOK_DIRTY=" (with uncommitted changes to the code)"
fi
# BP=/path/to/biasprobe runs a given binary (e.g. a copy, while the tree is being rebuilt).
if [ -z "${BP:-}" ]; then
    swift build -c release --product biasprobe >&2
    BP="$ROOT/.build/release/biasprobe"
fi
NOTEBOOK_START="$(date +%s)"
# MODEL=gemma3 (or a GGUF path) runs a notebook on another model: biasprobe reads it from
# BIASPROBE_MODEL, and the outputs go to outputs/<notebook>/<model>/ beside the default model's.
MODEL="${MODEL:-smollm2}"
export BIASPROBE_MODEL="$MODEL"
MODEL_TAG="$(basename "$MODEL" .gguf)"
out_dir() { if [ "$MODEL" = smollm2 ]; then echo "outputs/$1"; else echo "outputs/$1/$MODEL_TAG"; fi; }
# Layer count and the layer quarters of the paper's band rules (0-based, inclusive): layer l is in
# quarter l*4/L, as the claims count them; the default model keeps the quarters its committed
# outputs used (0-6 7-14 15-22 23-29).
# The model's facts, read once (`info --json`); model_fact KEY prints one of them.
MODEL_INFO="$("$BP" info --json)"
model_fact() { python3 -c 'import json,sys; v = json.loads(sys.argv[1]).get(sys.argv[2]); print(json.dumps(v) if isinstance(v, (list, dict)) else v)' "$MODEL_INFO" "$1"; }
N_LAYERS="$(model_fact layers)"
if [ "$MODEL" = smollm2 ]; then QUARTERS="0-6 7-14 15-22 23-29"; else
QUARTERS="$(python3 -c "
L = $N_LAYERS; q = [[l for l in range(L) if l * 4 // L == k] for k in range(4)]
print(' '.join(f'{a[0]}-{a[-1]}' for a in q))")"; fi
MODEL_NAME="$(model_fact name)"
MODEL_FILE="$(model_fact model)"

# report FILE COMMAND...: runs COMMAND (a script reading the results, or a shell function) and
# writes what it prints to FILE, its first line (the "# title") followed by the provenance every
# report carries: the command, the commit, the model file's sha256 and the wall time since the build.
# Nothing is written when COMMAND fails.
report() {
    local file="$1"; shift
    local body
    body="$("$@")" || { echo "$NOTEBOOK: the report failed; $file not written" >&2; return 1; }
    local seconds=$(( $(date +%s) - NOTEBOOK_START )) binary=""
    if [ "$BP" != "$ROOT/.build/release/biasprobe" ]; then binary=", binary \`$BP\`"; fi
    {
        printf '%s\n\n' "$(printf '%s\n' "$body" | head -n 1)"
        echo "- Command: \`$NOTEBOOK_COMMAND\`"
        echo "- Commit: \`$NOTEBOOK_COMMIT\`$NOTEBOOK_DIRTY$binary"
        echo "- Model: $MODEL_NAME, \`$(basename "$MODEL_FILE")\` sha256 \`$(sha256sum "$MODEL_FILE" | cut -d' ' -f1)\`"
        echo "- Wall time: $(printf '%dh%02dm%02ds' $((seconds / 3600)) $((seconds % 3600 / 60)) $((seconds % 60))) for this run of the notebook" \
             "(finished $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), $(nproc) cores)"
        printf '%s\n' "$body" | tail -n +2
    } > "$file.tmp"
    mv "$file.tmp" "$file"
    echo "wrote $file" >&2
}
