#!/usr/bin/env bash
# Set up a fresh machine (idempotent) and run the whole test suite in release mode
# (the numeric tests run a real model; debug builds would be ~50x slower).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --build-tests
swift test -c release --skip-build "$@"
# The fuzz targets' deterministic CI mode (libFuzzer + AddressSanitizer; see Fuzz/README.md):
# every committed crash input replayed, then a fixed-seed, fixed-count GGUF run. Open-ended
# fuzzing is in scripts/reliability.sh. BIASPROBE_SKIP_FUZZ=1 leaves it out, e.g. when running
# a filtered subset of the tests.
if [ "${BIASPROBE_SKIP_FUZZ:-0}" != 1 ] && [ $# -eq 0 ]; then
    bash scripts/fuzz.sh --ci
fi
