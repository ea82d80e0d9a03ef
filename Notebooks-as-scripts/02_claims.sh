#!/usr/bin/env bash
# Notebook 2: the paper's testable claims.
#
# `biasprobe claims` runs the essays in parallel chunks and evaluates T1-T5, T11, T12, T19 and T20
# of shared/research/paper-claims.md with fixed, documented thresholds. It writes the verdict table
# and figures to outputs/claims/.
source "$(dirname "$0")/_common.sh"
"$BP" claims --out-dir outputs/claims
