#!/usr/bin/env bash
# The main job on a fresh machine: set up, build, trace 16k tokens of the default essays (a pass
# key hidden at half depth) with ParallelComp on the default model, then draw layer 12.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product biasprobe
BP=.build/release/biasprobe
mkdir -p outputs/demo
$BP info
$BP trace --context 16k --chunk-tokens 2048 --out outputs/demo/trace.h5
$BP inspect outputs/demo/trace.h5
$BP plot layer 12 --trace outputs/demo/trace.h5 --out outputs/demo/layer12.png
echo "demo: wrote outputs/demo/trace.h5 and outputs/demo/layer12.png" >&2
