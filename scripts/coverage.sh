#!/usr/bin/env bash
# Line coverage of Sources/ by the whole test suite, the CLI's child processes included.
#
#   scripts/coverage.sh                 # the working tree
#   scripts/coverage.sh --commit b78cc9b  # another commit, checked out in a temporary worktree
#
# Why not `swift test --enable-code-coverage`: SwiftPM exports coverage for the test bundle only, so
# code the tests reach through a `biasprobe` child process (end-to-end CLI tests) counts as never
# run, and a release build's report is the only one that finishes in minutes (a debug build runs
# the float64-checked model tests ~50x slower). Here the release build is instrumented by hand,
# every process writes its own profile (LLVM_PROFILE_FILE with %p), and llvm-cov reads the test
# bundle and every executable together. Same method before and after a change, so the two
# figures compare; the absolute figure of an optimised build undercounts lines the optimiser
# folded away.
#
# Takes a release build of its own (under the tree's .build-coverage) and one suite run: about
# 15 minutes on 2 cores. Prints the TOTAL line; logs and the per-file report go to .build/coverage/.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMMIT=""
while (($#)); do
    case "$1" in
        --commit) COMMIT="${2:?--commit needs a value}"; shift 2 ;;
        -h|--help) sed -n 2,17p "$0"; exit 0 ;;
        *) echo "coverage: unknown option '$1'" >&2; exit 2 ;;
    esac
done

TREE="$REPO"
if [ -n "$COMMIT" ]; then
    git -C "$REPO" rev-parse --verify -q "$COMMIT^{commit}" >/dev/null || { echo "coverage: --commit: no such commit '$COMMIT'" >&2; exit 2; }
    WT="$(mktemp -d "${TMPDIR:-/tmp}/coverage-wt.XXXXXX")"
    # The tests find ../shared beside the checkout, as in CI.
    git -C "$REPO" worktree add -q --detach "$WT/main" "$COMMIT"
    [ -e "$REPO/../shared" ] && ln -s "$(cd "$REPO/../shared" && pwd)" "$WT/shared"
    trap 'git -C "$REPO" worktree remove --force "$WT/main" >/dev/null 2>&1 || true; rm -rf "$WT"' EXIT
    TREE="$WT/main"
fi

TOOLS="$(dirname "$(readlink -f "$(command -v swift)")")"
PROFDATA="$TOOLS/llvm-profdata" COV="$TOOLS/llvm-cov"
[ -x "$PROFDATA" ] && [ -x "$COV" ] || { echo "coverage: the Swift toolchain's llvm-profdata/llvm-cov are missing in $TOOLS" >&2; exit 2; }

SCRATCH="$TREE/.build-coverage"
PROF="$SCRATCH/profiles"
LOGS="$REPO/.build/coverage"
mkdir -p "$LOGS"
rm -rf "$PROF" && mkdir -p "$PROF"
LABEL="$(git -C "$TREE" rev-parse --short HEAD)$(git -C "$TREE" diff --quiet HEAD -- Sources Tests || echo '+changes')"
LOG="$LOGS/$LABEL"
echo "coverage: plan: instrumented release build and one suite run of $LABEL in $SCRATCH; about 15 min on 2 cores" >&2

FLAGS=(-Xswiftc -profile-generate -Xswiftc -profile-coverage-mapping -Xcc -fprofile-instr-generate -Xcc -fcoverage-mapping)
t0=$SECONDS
(cd "$TREE" && swift build -c release --build-tests --scratch-path "$SCRATCH" "${FLAGS[@]}" >"$LOG.build.log" 2>&1) \
    || { tail -20 "$LOG.build.log" >&2; echo "coverage: build failed (log: $LOG.build.log)" >&2; exit 1; }
echo "coverage: built in $((SECONDS - t0)) s" >&2
t1=$SECONDS
set +e
(cd "$TREE" && LLVM_PROFILE_FILE="$PROF/%p-%m.profraw" swift test -c release --skip-build --scratch-path "$SCRATCH" >"$LOG.test.log" 2>&1)
rc=$?
set -e
echo "coverage: suite ran in $((SECONDS - t1)) s, exit $rc ($(grep -c "^Test Case .* passed" "$LOG.test.log") passed, $(grep -c "^Test Case .* failed" "$LOG.test.log") failed)" >&2

grep -E "^Test Case .* failed" "$LOG.test.log" | sed 's/^/coverage: /' >&2 || true
# A child that dies while writing leaves a damaged profile (DiskFullTraceTests' child runs under
# `ulimit -f`, so its dump fails too, which also fails that test here and only here): skip such
# files with a warning rather than losing the run.
"$PROFDATA" merge -sparse --failure-mode=all "$PROF"/*.profraw -o "$SCRATCH/merged.profdata"
BIN="$SCRATCH/release"
OBJECTS=()
for f in "$BIN"/*.xctest "$BIN"/biasprobe "$BIN"/trace-fuzz; do [ -f "$f" ] && OBJECTS+=("$f"); done
first="${OBJECTS[0]}"; rest=()
for f in "${OBJECTS[@]:1}"; do rest+=(-object "$f"); done
"$COV" report "$first" "${rest[@]}" -instr-profile "$SCRATCH/merged.profdata" \
    -ignore-filename-regex '(/Tests/|/\.build|/checkouts/|/Package\.swift)' >"$LOG.report.txt"
grep -E '^TOTAL' "$LOG.report.txt" | awk -v l="$LABEL" '{print "coverage of " l ": lines " $8 ", missed " $9 ", line cover " $10 " (regions " $4 ", functions " $7 ")"}'
echo "per-file report: $LOG.report.txt" >&2
