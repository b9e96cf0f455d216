#!/usr/bin/env bash
# Copy the digits sweep's small files (config.json, metrics.json, metrics.jsonl; never checkpoints) into
# results/enumerate-top/runs: runs/digits/MODEL/n10/enumerate_top=K/seedS as digits/MODEL/n10/topK/seedS (K = 0: every
# class). The Fashion-MNIST campaign's runs: results/collect_campaign.sh.
#   bash results/enumerate-top/collect.sh DIGITS_SWEEP_DIR
set -euo pipefail
sweep=$1 root=$(cd "$(dirname "$0")" && pwd)/runs
for run in "$sweep"/runs/digits/*/n10/enumerate_top=*/seed*; do
  [ -f "$run/metrics.json" ] || continue
  seed=$(basename "$run") top=$(basename "$(dirname "$run")") model=$(basename "$(dirname "$(dirname "$(dirname "$run")")")")
  dest=$root/digits/$model/n10/top${top#enumerate_top=}/$seed
  mkdir -p "$dest" && cp "$run"/config.json "$run"/metrics.json "$run"/metrics.jsonl "$dest/"
done
