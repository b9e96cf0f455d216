#!/usr/bin/env bash
# Copy the campaign's small files into runs/ here (config.json, metrics.json, metrics.jsonl; never checkpoints or
# splits): the ssvae runs as runs/fashion-mnist/m1-m2/n<labels>/seed<seed>, the baselines as written.
#   bash results/curve-scarce/collect.sh CAMPAIGN_DIR
set -euo pipefail
campaign=$1 here=$(cd "$(dirname "$0")" && pwd)/runs/fashion-mnist
for run in "$campaign"/runs/n*-s*; do
  [ -f "$run/metrics.json" ] || continue
  b=$(basename "$run") n=${b%-s*} s=${b#*-s}
  mkdir -p "$here/m1-m2/$n/seed$s"
  cp "$run"/config.json "$run"/metrics.json "$run"/metrics.jsonl "$here/m1-m2/$n/seed$s/"
done
(cd "$campaign/baselines/fashion-mnist" && find . -name "*.json" | while read -r f; do
  mkdir -p "$here/$(dirname "$f")" && cp "$f" "$here/$f"; done)
