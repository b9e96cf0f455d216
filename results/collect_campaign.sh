#!/usr/bin/env bash
# Copy a teacher campaign's small files (config.json, metrics.json, metrics.jsonl; never checkpoints or splits) into
# results/, each run by its name (results/teacher/run.sh: FEATURES-nN-sS-tW[-topK][-feE]):
#   FEATURES-nN-sS-tW-topK-feE -> teacher-levers/runs/fashion-mnist/FEATURES-tW-topK-feE/nN/seedS (a longer stage)
#   FEATURES-nN-sS-tW-topK     -> enumerate-top/runs/fashion-mnist/FEATURES-tW-topK/nN/seedS
#   calder-nN-sS-tW            -> teacher/runs/fashion-mnist/calder-tW/nN/seedS (every class)
#   m1-nN-sS-t0, none-nN-sS-t0 -> curve-scarce/runs/fashion-mnist/m1-m2 and m2-pixels/nN/seedS (no teacher)
# and the baselines as baselines_on_splits.py wrote them (CAMPAIGN/baselines/fashion-mnist/SLUG/nN/seedS) into
# curve-scarce/runs/fashion-mnist. Rerunning copies again; nothing is removed.
#   bash results/collect_campaign.sh CAMPAIGN_DIR
set -euo pipefail
campaign=$1 results=$(cd "$(dirname "$0")" && pwd)
small() { mkdir -p "$2" && cp "$1"/config.json "$1"/metrics.json "$1"/metrics.jsonl "$2/"; }
for run in "$campaign"/runs/*-n*-s*-t*; do
  [ -f "$run/metrics.json" ] || continue
  b=$(basename "$run") features=${b%%-n*} rest=${b#*-n}
  n=${rest%%-s*} rest=${rest#*-s} seed=${rest%%-t*} rest=${rest#*-t}
  case "$features:$rest" in
    *-top*-fe*) dest=teacher-levers/runs/fashion-mnist/$features-t$rest ;;
    *-top*) dest=enumerate-top/runs/fashion-mnist/$features-t$rest ;;
    calder:*) dest=teacher/runs/fashion-mnist/calder-t$rest ;;
    m1:0) dest=curve-scarce/runs/fashion-mnist/m1-m2 ;;
    none:0) dest=curve-scarce/runs/fashion-mnist/m2-pixels ;;
    *) echo "collect_campaign.sh: $b has no place in results/; left where it is" >&2; continue ;;
  esac
  small "$run" "$results/$dest/n$n/seed$seed"
done
[ -d "$campaign/baselines/fashion-mnist" ] || exit 0
(cd "$campaign/baselines/fashion-mnist" && find . -name "*.json" | while read -r f; do
  mkdir -p "$results/curve-scarce/runs/fashion-mnist/$(dirname "$f")"
  cp "$f" "$results/curve-scarce/runs/fashion-mnist/$f"; done)
