#!/usr/bin/env bash
# Set up a fresh machine (idempotent) and run the whole test suite in release mode
# (the numeric tests run a real model; debug builds would be ~50x slower).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --build-tests
swift test -c release --skip-build "$@"
