#!/usr/bin/env bash
# Writes a synthetic GGUF with Llama-3-8B shapes (Q4_K_M-style mix of Q4_K/Q6_K, random valid
# blocks; about 4.9 GB) into a temporary folder and prints its path. Never commit the file.
#   scripts/make-synthetic-8b.sh [DIR] [--layers N]
# Then e.g.:  biasprobe info --model PATH;  biasprobe bench prefill --model PATH --tokens 512
#             biasprobe trace --model PATH --context 16k --chunk-tokens 4096 ...
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-}"
if [ -z "$dir" ] || [ "${dir#--}" != "$dir" ]; then dir="$(mktemp -d /tmp/biasprobe-synthetic.XXXXXX)"; else shift; fi
mkdir -p "$dir"
python3 -c "import numpy" 2>/dev/null || { echo "error: numpy is needed (pip install numpy)" >&2; exit 1; }
python3 "$here/make-synthetic-8b.py" "$dir/synthetic-llama3-8b-q4km.gguf" "$@"
