#!/usr/bin/env bash
# Copy taught.sh's small files (config.json, metrics.json, metrics.jsonl; never checkpoints or splits) into the
# results folders: calder-nN-sS-tW as results/teacher/runs/fashion-mnist/calder-tW/nN/seedS; the rule without the
# teacher (m1-...-t0: M1+M2; none-...-t0: M2 on the pixels) as runs/fashion-mnist/m1-m2 and m2-pixels here; the
# baselines as written (runs/fashion-mnist/<slug>/nN/seedS: on each run's code, calder-<baseline>).
#   bash results/curve-scarce/collect_taught.sh CAMPAIGN_DIR
set -euo pipefail
campaign=$1 root=$(cd "$(dirname "$0")/../.." && pwd)
for run in "$campaign"/runs/*-n*-s*-t*; do
  [ -f "$run/metrics.json" ] || continue
  b=$(basename "$run") features=${b%%-n*} rest=${b#*-n}
  n=${rest%%-s*} rest=${rest#*-s} seed=${rest%%-t*} weight=${rest#*-t}
  case "$features:$weight" in
    *-top*) continue ;;  # results/enumerate-top/collect.sh copies these
    calder:*) dest=$root/results/teacher/runs/fashion-mnist/calder-t$weight ;;
    m1:0) dest=$root/results/curve-scarce/runs/fashion-mnist/m1-m2 ;;
    none:0) dest=$root/results/curve-scarce/runs/fashion-mnist/m2-pixels ;;
    *) continue ;;
  esac
  mkdir -p "$dest/n$n/seed$seed"
  cp "$run"/config.json "$run"/metrics.json "$run"/metrics.jsonl "$dest/n$n/seed$seed/"
done
(cd "$campaign/baselines/fashion-mnist" && find . -name "*.json" | while read -r f; do
  mkdir -p "$root/results/curve-scarce/runs/fashion-mnist/$(dirname "$f")"
  cp "$f" "$root/results/curve-scarce/runs/fashion-mnist/$f"; done)
