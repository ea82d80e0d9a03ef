#!/usr/bin/env bash
# The reliability checks in one command: fuzzing, the test suite under AddressSanitizer and
# ThreadSanitizer, and the tests of interrupted runs, full disks and past fuzz crashes.
#
#   scripts/reliability.sh           long mode: 1,000,000 fuzz executions per target (an hour or
#                                    more on 2 cores), then everything else
#   scripts/reliability.sh --short   CI-sized: 60 s of fuzzing in all, then everything else
#
# Each step's full output goes to .build-reliability/<step>.log; a summary is printed at the end
# and the exit status is 1 if any step failed. Steps run one after another (2 cores).
set -uo pipefail
cd "$(dirname "$0")/.."
mode=long
case "${1:-}" in
    --short) mode=short ;;
    "") ;;
    *) echo "usage: scripts/reliability.sh [--short]" >&2; exit 2 ;;
esac
LOGS=.build-reliability
mkdir -p "$LOGS"
summary=() failed=0

step() { # name summary-pattern command... (SHOW: how many matching lines to show, from the end)
    local name=$1 pattern=$2; shift 2
    local start=$(date +%s) rc=0
    echo "reliability: $name ..." >&2
    "$@" > "$LOGS/$name.log" 2>&1 || rc=$?
    local took=$(( $(date +%s) - start ))
    local what
    what=$(grep -E "$pattern" "$LOGS/$name.log" | sed 's/^[[:space:]]*//' | tail -"$SHOW" | tr '\n' ';' | sed 's/;$//; s/;/; /g')
    if [ $rc -eq 0 ]; then summary+=("PASS  $name (${took}s): ${what:-ok}")
    else summary+=("FAIL  $name (${took}s, exit $rc): ${what:-see $LOGS/$name.log}"); failed=1; fi
}

if [ $mode = long ]; then
    SHOW=2 step fuzz '^fuzz: [a-z]+: ' scripts/fuzz.sh --runs 1000000
else
    SHOW=2 step fuzz '^fuzz: [a-z]+: ' scripts/fuzz.sh 60
fi
SHOW=1 step asan 'Executed [0-9]+ tests|ERROR: AddressSanitizer|error:' scripts/sanitize.sh address
SHOW=1 step tsan 'Executed [0-9]+ tests|WARNING: ThreadSanitizer|error:' scripts/sanitize.sh thread
# Interrupted runs (SIGINT, SIGKILL), a full disk while writing a trace and in HDF5Bridge, and
# the committed fuzz crashes, in the normal release build.
SHOW=1 step disk-and-interrupts 'Executed [0-9]+ tests|error:' bash -c '
    swift build -c release --build-tests -j 1 &&
    swift test -c release --skip-build --filter "DiskFull|testInterruptedRunsLeaveNoTrace|FuzzRegression"'

echo
printf '%s\n' "${summary[@]}"
exit $failed
