#!/usr/bin/env bash
# The 128K pass-key eval under the official input side (character split, InfiniteBench pass-key
# template, no chat markup) beside the sentence split under the same prompts, both models.
set -euo pipefail
cd "$(dirname "$0")"
B=../../../.build/release/biasprobe
run() { # name, args...
    local name=$1; shift
    [ -s "$name.jsonl" ] && [ "$(wc -l < "$name.jsonl")" -ge 20 ] && return 0
    /usr/bin/time -v "$B" eval passkey --lengths 128k --seeds 4 --keep-chunks 1 --measure --json "$@" > "$name.jsonl" 2> "$name.time"
}
run smollm2-characters --chunk-tokens 384
run smollm2-sentences --chunk-tokens 384 --split-by sentences
run gemma3-characters --model gemma3 --chunk-tokens 512
run gemma3-sentences --model gemma3 --chunk-tokens 512 --split-by sentences
