#!/usr/bin/env bash
# The main job on a fresh machine: set up, build, trace 16k tokens of the default essays (a pass
# key hidden at half depth) with ParallelComp on the default model under the official defaults but
# for the chunk size (384 tokens, 1 kept: a 135M model reads a pass key only from a few hundred
# tokens, so chunks of its trained 8K bury it), print the answer, then draw layer 12.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product biasprobe
BP=.build/release/biasprobe
mkdir -p outputs/demo
$BP info
$BP trace --context 16k --chunk-tokens 384 --keep-chunks 1 --force --out outputs/demo/trace.h5
$BP inspect outputs/demo/trace.h5
$BP plot layer 12 --trace outputs/demo/trace.h5 --out outputs/demo/layer12.png
echo "demo: wrote outputs/demo/trace.h5 and outputs/demo/layer12.png" >&2
