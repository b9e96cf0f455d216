#!/usr/bin/env bash
# Copy the campaign's small files (config.json, metrics.json, metrics.jsonl; never checkpoints or splits) into
# results/enumerate-top/runs: FEATURES-nN-sS-tW-topK (campaign.sh) as fashion-mnist/FEATURES-tW-topK/nN/seedS, and
# the digits sweep's runs/digits/MODEL/n10/enumerate_top=K/seedS as digits/MODEL/n10/topK/seedS (K = 0: every class).
#   bash results/enumerate-top/collect.sh CAMPAIGN_DIR DIGITS_SWEEP_DIR
set -euo pipefail
campaign=$1 sweep=$2 root=$(cd "$(dirname "$0")/../.." && pwd)/results/enumerate-top/runs
small() { mkdir -p "$2" && cp "$1"/config.json "$1"/metrics.json "$1"/metrics.jsonl "$2/"; }
for run in "$campaign"/runs/*-n*-s*-t*-top*; do
  [ -f "$run/metrics.json" ] || continue
  case "$run" in *-fe*) continue ;; esac  # a longer stage: results/teacher-levers/collect.sh
  b=$(basename "$run") features=${b%%-n*} rest=${b#*-n}
  n=${rest%%-s*} rest=${rest#*-s} seed=${rest%%-t*} rest=${rest#*-t}
  small "$run" "$root/fashion-mnist/$features-t$rest/n$n/seed$seed"
done
for run in "$sweep"/runs/digits/*/n10/enumerate_top=*/seed*; do
  [ -f "$run/metrics.json" ] || continue
  seed=$(basename "$run") top=$(basename "$(dirname "$run")") model=$(basename "$(dirname "$(dirname "$(dirname "$run")")")")
  small "$run" "$root/digits/$model/n10/top${top#enumerate_top=}/$seed"
done
