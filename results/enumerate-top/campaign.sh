#!/usr/bin/env bash
# Issue 45: --enumerate-top k against every class, on the splits and at the schedule of results/teacher and
# results/curve-scarce (their runs with every class enumerated are the paired reference). Each JOB is
# FEATURES:WEIGHT:LABELS:SEED:TOP: one run of results/teacher/run.sh with TOP=k, then `ssvae evaluate`. One thread;
# resumable: rerun to continue (a finished run is skipped). One process per core:
#   bash results/enumerate-top/campaign.sh CAMPAIGN_DIR DATA_DIR calder:0.01:10:0:2 calder:0.01:10:0:1 ...
set -euo pipefail
campaign=$1 data=$2
shift 2
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
for job in "$@"; do
  IFS=: read -r features weight labels seed top <<<"$job"
  run=$campaign/runs/$features-n$labels-s$seed-t$weight-top$top
  [ -d "$run/model-last" ] || FEATURES=$features TOP=$top bash results/teacher/run.sh "$labels" "$seed" "$weight" \
    "$campaign" "$data"
  [ -f "$run/metrics.json" ] || ssvae evaluate --no-figures "$run"
done
