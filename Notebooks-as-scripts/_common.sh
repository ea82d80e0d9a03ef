# Shared by the notebook scripts: build once, then use the release binary.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# BP=/path/to/biasprobe runs a given binary (e.g. a copy, while the tree is being rebuilt).
if [ -z "${BP:-}" ]; then
    swift build -c release --product biasprobe >&2
    BP="$ROOT/.build/release/biasprobe"
fi
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
