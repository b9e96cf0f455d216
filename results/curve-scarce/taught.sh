#!/usr/bin/env bash
# Issue 43, item 5: the curve with the graph teacher. Each JOB is FEATURES:WEIGHT:LABELS:SEED[:TOP]: one run of
# results/teacher/run.sh (the estimator's schedule for 60,000 images with --features FEATURES --teacher WEIGHT;
# FEATURES none: M2 on the pixels; TOP: --enumerate-top TOP, the run named ...-topTOP), `ssvae evaluate`, then the
# baselines on that run's code; with PIXELS=1 the baselines on the pixels of that split too (for seeds whose pixel
# baselines are not committed yet). `results/collect_campaign.sh` copies the small files
# into results/. One thread; resumable: rerun to continue (a finished run or baseline is skipped). One process per
# core:
#   bash results/curve-scarce/taught.sh CAMPAIGN_DIR DATA_DIR calder:0.01:5:0 calder:0.01:5:1 ...
#   PIXELS=1 bash results/curve-scarce/taught.sh CAMPAIGN_DIR DATA_DIR calder:0.01:10:3:2 m1:0:10:3
set -euo pipefail
campaign=$1 data=$2
shift 2
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
for job in "$@"; do
  IFS=: read -r features weight labels seed top <<<"$job"
  run=$campaign/runs/$features-n$labels-s$seed-t$weight${top:+-top$top}
  [ -d "$run/model-last" ] || FEATURES=$features TOP=$top bash results/teacher/run.sh "$labels" "$seed" "$weight" "$campaign" "$data"
  [ -f "$run/metrics.json" ] || ssvae evaluate --no-figures "$run"
  only=("$features"-graph-poisson "$features"-graph-laplace "$features"-sklearn-logreg "$features"-sklearn-labelspreading
    "$features"-sklearn-selftraining)
  [ "$features" = none ] && only=()
  [ "${PIXELS:-0}" = 1 ] && only+=(graph-poisson graph-laplace sklearn-logreg sklearn-labelspreading sklearn-selftraining)
  [ ${#only[@]} -eq 0 ] || python benchmarks/baselines_on_splits.py --data-dir "$data" --out "$campaign/baselines" \
    --labels "$labels" --seeds "$seed" --runs "$run" --only "${only[@]}"
done
