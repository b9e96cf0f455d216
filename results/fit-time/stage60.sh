#!/usr/bin/env bash
# Issue 43: the estimator's default with Calder et al.'s stage trained for 18,000 steps (feature_epochs="auto": 60
# epochs of 60,000 images) against the same default with the stage's 30 epochs (the default before) and label
# spreading, one after another on one quiet machine, the same rows (all 60,000 Fashion-MNIST training images, 10
# labels per class, seed 0).
#   bash results/fit-time/stage60.sh DATA_DIR NAME     (writes results/fit-time/NAME-{60,30}.json and .txt)
set -euo pipefail
data=$1 name=$2
cd "$(dirname "$0")/../.."
python benchmarks/fit_time.py --data-dir "$data" --methods ssvae sklearn-labelspreading \
  --json "results/fit-time/$name-60.json" | tee "results/fit-time/$name-60.txt"
python benchmarks/fit_time.py --data-dir "$data" --methods ssvae --set feature_epochs=30 \
  --json "results/fit-time/$name-30.json" | tee "results/fit-time/$name-30.txt"
