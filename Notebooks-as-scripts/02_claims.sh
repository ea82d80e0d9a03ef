#!/usr/bin/env bash
# Notebook 2: the paper's testable claims.
#
# `biasprobe claims` tests the claims of shared/research/paper-claims.md (T1-T13, T15, T18, T20,
# plus two observations) over seeded examples (40 at the standard size) from the default essays, each statistic
# with a bootstrap interval over examples and a pre-registered threshold (docs/claims.md). It
# writes the table, examples.jsonl and figures to outputs/claims/MODEL-vPROTOCOL-LAYOUT/ (a folder
# holding a finished run is refused, never written over: pass --out-dir to run again elsewhere).
# On a cluster: biasprobe slurm claims --shards N (then the merge job writes the same files).
# Here the examples run in one process per core (PROCESSES, default nproc), merged at the end;
# report.md beside claims.md says how the table was made.
source "$(dirname "$0")/_common.sh"
"$BP" claims run --processes "${PROCESSES:-$(nproc)}" "$@"

# The notebook's report: where the table is, its verdict line, and how it was made. The folder is
# the one `claims run` wrote (--out-dir, else its default: outputs/claims/MODEL-vPROTOCOL-LAYOUT).
CLAIMS_DIR="$("$BP" claims run --show-folder "$@")"
body() {
    echo "# Attention-bias claims: $MODEL_NAME"
    echo
    grep -m 1 '^Verdicts:' "$CLAIMS_DIR/claims.md"
    echo
    echo "The table with every statistic, interval and threshold: [claims.md](claims.md); per-example rows in examples.jsonl."
}
report "$CLAIMS_DIR/report.md" body
