#!/usr/bin/env bash
# Notebook 2: the paper's testable claims.
#
# `biasprobe claims` tests the claims of shared/research/paper-claims.md (T1-T13, T15, T18, T20,
# plus two observations) over 20 seeded examples drawn from the default essays, each statistic
# with a bootstrap interval over examples and a pre-registered threshold (docs/claims.md). It
# writes the table, examples.jsonl and figures to outputs/claims/MODEL/ (one folder per model).
# On a cluster: biasprobe slurm claims --shards N (then the merge job writes the same files).
# Here the examples run in one process per core (PROCESSES, default nproc), merged at the end;
# report.md beside claims.md says how the table was made.
source "$(dirname "$0")/_common.sh"
"$BP" claims run --processes "${PROCESSES:-$(nproc)}" "$@"

# The notebook's report: where the table is, its verdict line, and how it was made. The folder is
# the one `claims run` wrote (--out-dir, else outputs/claims/<model>, as biasprobe names it).
CLAIMS_DIR=""
prev=""
for a in "$@"; do
    [ "$prev" = --out-dir ] && CLAIMS_DIR="$a"
    case "$a" in --out-dir=*) CLAIMS_DIR="${a#--out-dir=}";; esac
    prev="$a"
done
if [ -z "$CLAIMS_DIR" ]; then
    case "$(basename "$MODEL_FILE")" in
        SmolLM2-135M-Instruct.Q4_1.gguf) CLAIMS_DIR=outputs/claims/smollm2;;
        gemma-3-270m-q4_k_m.gguf) CLAIMS_DIR=outputs/claims/gemma3;;
        *) CLAIMS_DIR="outputs/claims/$(basename "$MODEL_FILE" .gguf | tr '[:upper:]' '[:lower:]')";;
    esac
fi
body() {
    echo "# Attention-bias claims: $MODEL_NAME"
    echo
    grep -m 1 '^Verdicts:' "$CLAIMS_DIR/claims.md"
    echo
    echo "The table with every statistic, interval and threshold: [claims.md](claims.md); per-example rows in examples.jsonl."
}
report "$CLAIMS_DIR/report.md" body
