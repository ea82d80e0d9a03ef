#!/usr/bin/env bash
# Runs the whole test suite under a sanitizer, in release mode (the numeric tests run a real
# model and are far too slow in debug):
#
#   scripts/sanitize.sh address    AddressSanitizer: out-of-bounds, use-after-free, double free
#   scripts/sanitize.sh thread     ThreadSanitizer: data races
#   scripts/sanitize.sh address --filter GGUFTests    (extra arguments go to swift test)
#
# Each sanitizer builds in its own folder (.build-asan, .build-tsan), so the normal .build is
# left alone. The CLI tests run the biasprobe binary next to the test bundle, which is built
# with the same sanitizer. Release builds use -Ounchecked (Package.swift), so Swift's own bounds
# checks are off there: the sanitizers are what catch a bad index in these runs.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: scripts/sanitize.sh address|thread [swift test arguments]}
shift
case $kind in
    address) dir=.build-asan
             # HDF5 keeps global caches until exit and OpenBLAS its thread buffers: leak reports
             # would be theirs. Everything else ASan checks stays on.
             export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:halt_on_error=1} ;;
    thread)  dir=.build-tsan
             export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp} ;;
    *) echo "usage: scripts/sanitize.sh address|thread" >&2; exit 2 ;;
esac
# Tests that cannot run under one sanitizer skip themselves (DiskFullTraceTests under thread).
export BIASPROBE_SANITIZER=$kind
# Swift's crash reporter would run inside the sanitizer's own report and confuse it.
export SWIFT_BACKTRACE=enable=no
jobs=${SANITIZE_JOBS:-1}
swift build -c release --build-tests --sanitize="$kind" --scratch-path "$dir" -j "$jobs"
swift test -c release --skip-build --sanitize="$kind" --scratch-path "$dir" "$@"
