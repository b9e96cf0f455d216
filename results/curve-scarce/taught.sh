#!/usr/bin/env bash
# Issue 43, item 5: the curve with the graph teacher. Each JOB is FEATURES:WEIGHT:LABELS:SEED: one run of
# results/teacher/run.sh (the estimator's schedule for 60,000 images with --features FEATURES --teacher WEIGHT;
# FEATURES none: M2 on the pixels), `ssvae evaluate`, then the baselines on that run's code (the pixel baselines of
# these splits are already committed). `collect_taught.sh` copies the small files into results/. One thread;
# resumable: rerun to continue (a finished run or baseline is skipped). One process per core:
#   bash results/curve-scarce/taught.sh CAMPAIGN_DIR DATA_DIR calder:0.01:5:0 calder:0.01:5:1 ...
set -euo pipefail
campaign=$1 data=$2
shift 2
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
for job in "$@"; do
  IFS=: read -r features weight labels seed <<<"$job"
  run=$campaign/runs/$features-n$labels-s$seed-t$weight
  [ -d "$run/model-last" ] || FEATURES=$features bash results/teacher/run.sh "$labels" "$seed" "$weight" "$campaign" "$data"
  [ -f "$run/metrics.json" ] || ssvae evaluate --no-figures "$run"
  python benchmarks/baselines_on_splits.py --data-dir "$data" --out "$campaign/baselines" --labels "$labels" \
    --seeds "$seed" --runs "$run" --only "$features"-graph-poisson "$features"-graph-laplace \
    "$features"-sklearn-logreg "$features"-sklearn-labelspreading "$features"-sklearn-selftraining
done
