#!/usr/bin/env bash
# Copy the small files (config.json, metrics.json, metrics.jsonl; never checkpoints or splits) of the taught runs on
# a longer-trained stage (results/teacher/run.sh with FEATURE_EPOCHS=e: CAMPAIGN/runs/calder-nN-sS-tW-topK-feE) into
# results/teacher-levers/runs/fashion-mnist/calder-tW-topK-feE/nN/seedS.
#   bash results/teacher-levers/collect.sh CAMPAIGN_DIR
set -euo pipefail
campaign=$1 root=$(cd "$(dirname "$0")" && pwd)/runs
for run in "$campaign"/runs/*-n*-s*-t*-fe*; do
  [ -f "$run/metrics.json" ] || continue
  b=$(basename "$run") features=${b%%-n*} rest=${b#*-n}
  n=${rest%%-s*} rest=${rest#*-s} seed=${rest%%-t*} rest=${rest#*-t}
  mkdir -p "$root/fashion-mnist/$features-t$rest/n$n/seed$seed"
  cp "$run"/config.json "$run"/metrics.json "$run"/metrics.jsonl "$root/fashion-mnist/$features-t$rest/n$n/seed$seed/"
done
