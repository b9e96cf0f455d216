#!/usr/bin/env bash
# Issue 43, item 4: the estimator's new default (features="auto" -> calder, teacher="auto" -> 0.01 at 10 labels per
# class) against the previous one (features="m1", teacher=0) and label spreading, one after another on one quiet
# machine, the same rows (all 60,000 Fashion-MNIST training images, 10 labels per class, seed 0).
#   bash results/fit-time/taught.sh DATA_DIR NAME     (writes results/fit-time/NAME-{new,previous}.json and .txt)
set -euo pipefail
data=$1 name=$2
cd "$(dirname "$0")/../.."
python benchmarks/fit_time.py --data-dir "$data" --methods ssvae sklearn-labelspreading \
  --json "results/fit-time/$name-new.json" | tee "results/fit-time/$name-new.txt"
python benchmarks/fit_time.py --data-dir "$data" --methods ssvae --set 'features="m1"' teacher=0 \
  --json "results/fit-time/$name-previous.json" | tee "results/fit-time/$name-previous.txt"
