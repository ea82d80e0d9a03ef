#!/usr/bin/env bash
# Notebook 2: the paper's testable claims.
#
# `biasprobe claims` tests the claims of shared/research/paper-claims.md (T1-T13, T15, T18, T20,
# plus two observations) over 20 seeded examples drawn from the default essays, each statistic
# with a bootstrap interval over examples and a pre-registered threshold (docs/claims.md). It
# writes the table, examples.jsonl and figures to outputs/claims/MODEL/ (one folder per model).
# On a cluster: biasprobe slurm claims --shards N (then the merge job writes the same files).
# Here the examples run in one process per core (PROCESSES, default nproc), merged at the end.
source "$(dirname "$0")/_common.sh"
"$BP" claims run --processes "${PROCESSES:-$(nproc)}" "$@"
