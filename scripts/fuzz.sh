#!/usr/bin/env bash
# Builds and runs the libFuzzer targets (Fuzz/): GGUF model files and HDF5 traces.
#
#   scripts/fuzz.sh --ci               what the test command runs: deterministic (see below)
#   scripts/fuzz.sh [SECONDS]          both targets, SECONDS in all (open-ended: reliability.sh)
#   scripts/fuzz.sh --runs N           both targets, N executions each (the long mode uses 1000000)
#   FUZZ_TARGETS="gguf" scripts/fuzz.sh 30   one target only
#   FUZZ_JOBS=2 scripts/fuzz.sh --runs N     the trace target in 2 processes (default 1)
#
# Seeds: Fuzz/corpus/<target>/ (committed, small), plus the default model's first megabyte and
# a fresh trace when they are at hand. Inputs libFuzzer finds interesting go to
# .build-fuzz/corpus/<target>/ (kept between runs, never committed). A crash stops the target,
# leaves its input in .build-fuzz/artifacts/ and makes this script exit 1; turn it into a fixture
# under Tests/*/Fixtures/fuzz-crashes/ and a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${FUZZ_BUILD_DIR:-$ROOT/.build-fuzz}
TARGETS=(${FUZZ_TARGETS:-gguf trace})

seconds=60 runs="" ci=0
case "${1:-}" in
    --ci) ci=1 ;;
    --runs) runs=${2:?--runs needs a count} ;;
    "") ;;
    *) seconds=$1 ;;
esac

Fuzz/build.sh all >&2
mkdir -p "$OUT/artifacts"

# Swift's own crash reporter would catch the signal before libFuzzer does (and trips ASan
# reading memory for its backtrace): let libFuzzer report crashes.
export SWIFT_BACKTRACE=enable=no
# HDF5 closes the library at exit; ASan's leak check finds HDF5's global caches: not ours.
# No allocation stacks and a small quarantine: libhdf5 allocates and frees so much per file that
# ASan's defaults halve the trace target's speed. Replay an artifact with plain
# ASAN_OPTIONS=detect_leaks=0 for a full report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1:malloc_context_size=0:quarantine_size_mb=16:max_malloc_fill_size=0}

MODEL="${BIASPROBE_MODEL:-${BIASPROBE_CACHE:-$HOME/.cache/biasprobe}/SmolLM2-135M-Instruct.Q4_1.gguf}"

seed() { # target
    local dir="$OUT/corpus/$1"
    mkdir -p "$dir"
    cp -n Fuzz/corpus/"$1"/* "$dir"/ 2>/dev/null || true
    case $1 in
        gguf) [ -f "$MODEL" ] && [ ! -f "$dir/model-head-1M.gguf" ] && head -c 1048576 "$MODEL" > "$dir/model-head-1M.gguf" || true
              # Past crashes are replayed at every start (this build traps where release would not).
              cp -n Tests/PCInferenceTests/Fixtures/fuzz-crashes/*.gguf "$dir"/ 2>/dev/null || true ;;
        # Not the libhdf5-* fixtures: they crash libhdf5 itself, every time.
        trace) cp -n Tests/BiasProbeTests/Fixtures/fuzz-crashes/inspect-*.h5 "$dir"/ 2>/dev/null || true ;;
    esac
}

# Stack frames of the sanitizer and fuzzer runtimes, whichever binary they are linked into.
RUNTIME_FRAMES='sanitizer|fuzzer::|libc\.so|compiler-rt| in __asan|__interceptor_| in __sanitizer| in __lsan|asan_|libclang_rt'

# Where an input that stopped a target stops when replayed on its own: "libhdf5" when the first
# stack frame past the sanitizer's and libFuzzer's own is in libhdf5, "norepro" when it runs
# clean alone (it needed the state earlier inputs left in the process, e.g. memory libhdf5
# corrupted without being caught), "ours" otherwise.
classify() { # artifact target
    local out try
    # A hang's alarm lands wherever the loop happens to be; on a loaded machine that can be one of
    # our frames under a libhdf5 call that never returns. A timeout is replayed up to 3 times and
    # counts as libhdf5's if any replay stops in a shared library first.
    for try in 1 2 3; do
        out=$(ASAN_OPTIONS=detect_leaks=0 timeout 60 "$OUT/$2-fuzz" -timeout=5 "$1" 2>&1 || true)
        if ! echo "$out" | grep -qE 'ERROR: |SUMMARY: |runtime failure'; then echo norepro; return; fi
        # A shared library's frame (libhdf5, or zlib and libc under it) comes before any frame of
        # our own binary.
        # ASan's interceptors (__asan_memcpy, __interceptor_*) are linked into the fuzz binary:
        # a fault inside one, called by libhdf5, must not make the binary look like the culprit.
        if echo "$out" | grep -E '^ +#[0-9]+ ' | grep -vE "$RUNTIME_FRAMES" | head -1 | grep -qE '\((/usr)?/lib/'
        then echo libhdf5; return; fi
        case $(basename "$1") in *timeout-*) ;; *) break ;; esac
    done
    echo ours
}

# CI mode: the result depends only on the code. (1) Every committed crash and regression input of
# both readers, and every committed seed, is replayed once through the ASan build; the libhdf5-*
# fixtures are left out because they crash libhdf5 itself (the release tests check that biasprobe
# reports them as damaged). (2) The GGUF target runs a fixed number of inputs from a fixed seed,
# starting from a fresh copy of the committed seeds, so two runs do the same executions.
# Open-ended trace fuzzing mostly explores libhdf5's own bugs and lives in reliability.sh.
if [ $ci = 1 ]; then
    CI_RUNS=${FUZZ_CI_RUNS:-30000}
    status=0
    replay() { # target files...
        local t=$1; shift
        local log="$OUT/$t-replay.log"
        if "$OUT/$t-fuzz" -runs=1 "$@" > "$log" 2>&1; then echo "fuzz: $t: replayed $# committed inputs, no crash"
        else echo "fuzz: $t: a committed input crashes, see $log"; grep -m1 -E "SUMMARY|ERROR:|Fatal error|runtime failure" "$log" >&2 || true; status=1; fi
    }
    replay gguf Tests/PCInferenceTests/Fixtures/fuzz-crashes/*.gguf Tests/PCInferenceTests/Fixtures/malformed/*.gguf Fuzz/corpus/gguf/*
    replay trace Tests/BiasProbeTests/Fixtures/fuzz-crashes/inspect-*.h5 Fuzz/corpus/trace/*
    corpus=$(mktemp -d)
    trap 'rm -rf "$corpus"' EXIT
    cp Fuzz/corpus/gguf/* Tests/PCInferenceTests/Fixtures/fuzz-crashes/*.gguf "$corpus"/
    [ -f "$MODEL" ] && head -c 1048576 "$MODEL" > "$corpus/model-head-1M.gguf"
    log="$OUT/gguf-ci.log"
    start=$(date +%s)
    # -reload=0: never re-read the corpus folder (its timing could change the order of inputs).
    if "$OUT/gguf-fuzz" -seed=1 -runs="$CI_RUNS" -reload=0 -max_len=131072 -timeout=60 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$OUT/artifacts/gguf-ci-" "$corpus" > "$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        echo "fuzz: gguf: ${execs:-?} executions from seed 1 in $(( $(date +%s) - start ))s, no crash in biasprobe code"
    else
        echo "fuzz: gguf: CRASH in biasprobe code (seed 1), see $log and $OUT/artifacts/gguf-ci-*"
        grep -m1 -E "SUMMARY|ERROR: libFuzzer|Fatal error|runtime failure" "$log" >&2 || true
        status=1
    fi
    exit $status
fi

status=0
summary=()
for t in "${TARGETS[@]}"; do
    seed "$t"
    log="$OUT/$t.log"
    limit=()
    if [ -n "$runs" ]; then limit=(-runs="$runs"); else limit=(-max_total_time=$(( seconds / ${#TARGETS[@]} ))); fi
    case $t in
        gguf) opts=(-max_len=131072 -timeout=10) ;;
        # libhdf5 itself crashes or hangs on some damaged files (TraceReader checks traces in a
        # child process for that reason); fork mode keeps fuzzing past those, and every input
        # that stops is kept in the artifacts folder and classified below.
        trace) opts=(-max_len=65536 -timeout=3 -fork="${FUZZ_JOBS:-1}" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1) ;;
    esac
    echo "fuzz: $t ${limit[*]} (log $log)" >&2
    before=$(ls "$OUT/artifacts" | grep -c "^$t-" || true)
    start=$(date +%s)
    rc=0
    "$OUT/$t-fuzz" "${limit[@]}" "${opts[@]}" -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="$OUT/artifacts/$t-" "$OUT/corpus/$t" > "$log" 2>&1 || rc=$?
    elapsed=$(( $(date +%s) - start ))
    # Executions: the final stats line, or in fork mode the last progress line.
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    [ -n "$execs" ] || execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    ours=() hdf5=0 norepro=0
    for a in $(ls -t "$OUT/artifacts" | grep "^$t-" | head -n $(( $(ls "$OUT/artifacts" | grep -c "^$t-" || true) - before ))); do
        case $(classify "$OUT/artifacts/$a" "$t") in
            libhdf5) hdf5=$((hdf5 + 1)) ;;
            norepro) norepro=$((norepro + 1)) ;;
            *) ours+=("$OUT/artifacts/$a") ;;
        esac
    done
    line="$t: ${execs:-?} executions, ${elapsed}s"
    [ "$t" = trace ] && line+=", $hdf5 inputs that crash or hang inside libhdf5, $norepro that do not crash when replayed alone"
    if [ ${#ours[@]} -gt 0 ] || { [ $rc -ne 0 ] && [ "$t" = gguf ]; }; then
        status=1
        line+=", CRASH in biasprobe code: ${ours[*]:-see $log}"
        grep -m1 -E "SUMMARY|ERROR: libFuzzer|Fatal error|runtime failure" "$log" >&2 || true
    else
        line+=", no crash in biasprobe code"
    fi
    summary+=("$line")
done
printf 'fuzz: %s\n' "${summary[@]}"
exit $status
