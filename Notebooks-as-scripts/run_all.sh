#!/usr/bin/env bash
# Runs every notebook script in order.
set -euo pipefail
for s in "$(dirname "$0")"/[0-9]*.sh; do echo "== $s" >&2; bash "$s"; done
