#!/usr/bin/env bash
# Builds the libFuzzer targets into .build-fuzz/ (outside SwiftPM: the main package is untouched).
#
#   Fuzz/build.sh            both targets
#   Fuzz/build.sh gguf|trace one of them
#
# Every module is compiled with -sanitize=fuzzer,address (coverage for libFuzzer, AddressSanitizer)
# at -O, which keeps Swift's bounds and overflow checks: a check the code forgot becomes a trap
# that libFuzzer reports, where the release build's -Ounchecked would read out of bounds.
# Output: .build-fuzz/gguf-fuzz and .build-fuzz/trace-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${FUZZ_BUILD_DIR:-$ROOT/.build-fuzz}
mkdir -p "$OUT/modules" "$OUT/obj"

SAN=(-sanitize=fuzzer,address)
SWIFTC=(swiftc -O -g -swift-version 6 -parse-as-library "${SAN[@]}" -module-cache-path "$OUT/module-cache")
BLAS=(-Xcc -fmodule-map-file="$ROOT/Sources/CBLAS/module.modulemap" $(pkg-config --cflags-only-I openblas))
HDF5=(-Xcc -fmodule-map-file="$ROOT/Sources/CHDF5/module.modulemap" $(pkg-config --cflags-only-I hdf5-serial))
QUANT=(-Xcc -fmodule-map-file="$ROOT/Sources/CQuant/include/module.modulemap" -Xcc -fmodule-map-file="$ROOT/Sources/CSpinPool/include/module.modulemap")
LIBS=($(pkg-config --libs openblas hdf5-serial) -lhdf5_hl)

say() { echo "fuzz build: $*" >&2; }

# A library module: one object file plus its .swiftmodule.
module() { # name flags... -- sources...
    local name=$1; shift
    local flags=()
    while [ "$1" != "--" ]; do flags+=("$1"); shift; done; shift
    local stamp="$OUT/obj/$name.o"
    # Rebuild only when a source is newer than the object.
    if [ -f "$stamp" ] && [ -z "$(find "$@" -newer "$stamp" -print -quit)" ]; then return; fi
    say "compiling $name (${#@} files)"
    "${SWIFTC[@]}" -module-name "$name" -wmo -num-threads 0 -c -o "$stamp" \
        -emit-module -emit-module-path "$OUT/modules/$name.swiftmodule" -I "$OUT/modules" "${flags[@]}" "$@"
}

# PCInference's C targets (the quantized kernels with function-level target attributes, and the
# worker pool), built with the same sanitizers into one relocatable object, CQuant.o.
cquant() {
    local obj="$OUT/obj/CQuant.o"
    if [ -f "$obj" ] && [ -z "$(find Sources/CQuant Sources/CSpinPool -newer "$obj" -print -quit)" ]; then return; fi
    say "compiling CQuant and CSpinPool"
    local parts=()
    for c in Sources/CQuant/*.c Sources/CSpinPool/*.c; do
        local o="$OUT/obj/c-$(basename "$(dirname "$c")")-$(basename "$c" .c).o"
        clang -O2 -g -fsanitize=fuzzer-no-link,address -ISources/CQuant/include -ISources/CSpinPool/include -c "$c" -o "$o"
        parts+=("$o")
    done
    ld -r -o "$obj" "${parts[@]}"
}
pcinference() { cquant; module PCInference "${BLAS[@]}" "${QUANT[@]}" -- $(find Sources/PCInference -name '*.swift' | sort); }
hdf5bridge() { module HDF5Bridge "${HDF5[@]}" -- $(find Sources/HDF5Bridge -name '*.swift' | sort); }

gguf() {
    pcinference
    say "linking gguf-fuzz"
    "${SWIFTC[@]}" -module-name GGUFFuzz -I "$OUT/modules" "${BLAS[@]}" "${QUANT[@]}" \
        Fuzz/GGUFFuzz/*.swift "$OUT/obj/PCInference.o" "$OUT/obj/CQuant.o" "${LIBS[@]}" -o "$OUT/gguf-fuzz" 2> >(grep -v "ld.gold: warning: Cannot export local symbol" >&2)
}

trace() {
    pcinference
    hdf5bridge
    # The trace reader lives in the ProbeAnalysis library; its files are compiled in here as they are.
    say "linking trace-fuzz"
    "${SWIFTC[@]}" -module-name TraceFuzz -I "$OUT/modules" "${BLAS[@]}" "${HDF5[@]}" "${QUANT[@]}" \
        Fuzz/TraceFuzz/*.swift Sources/ProbeAnalysis/Trace/TraceFile.swift Sources/ProbeAnalysis/Trace/TraceSchema.swift \
        Sources/ProbeAnalysis/Trace/TraceSummary.swift Sources/ProbeAnalysis/Trace/DocumentMap.swift Sources/ProbeAnalysis/Support/InputFile.swift \
        Sources/ProbeAnalysis/Support/SelfExecutable.swift Sources/ProbeAnalysis/Support/AnalysisError.swift \
        "$OUT/obj/PCInference.o" "$OUT/obj/CQuant.o" "$OUT/obj/HDF5Bridge.o" "${LIBS[@]}" -o "$OUT/trace-fuzz" 2> >(grep -v "ld.gold: warning: Cannot export local symbol" >&2)
}

case "${1:-all}" in
    gguf) gguf ;;
    trace) trace ;;
    all) gguf; trace ;;
    *) echo "usage: $0 [gguf|trace|all]" >&2; exit 2 ;;
esac
