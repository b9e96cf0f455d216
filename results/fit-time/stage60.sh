#!/usr/bin/env bash
# Issue 43: the estimator's default with Calder et al.'s stage trained 60 epochs instead of its 30 (18,000 steps of
# 200 on 60,000 images), with label spreading, against the default as it is, one after another on one quiet
# machine, the same rows (all 60,000 Fashion-MNIST training images, 10 labels per class, seed 0).
#   bash results/fit-time/stage60.sh DATA_DIR NAME     (writes results/fit-time/NAME-{60,30}.json and .txt)
set -euo pipefail
data=$1 name=$2
cd "$(dirname "$0")/../.."
python benchmarks/fit_time.py --data-dir "$data" --methods ssvae sklearn-labelspreading --set feature_epochs=60 \
  --json "results/fit-time/$name-60.json" | tee "results/fit-time/$name-60.txt"
python benchmarks/fit_time.py --data-dir "$data" --methods ssvae --set feature_epochs=30 \
  --json "results/fit-time/$name-30.json" | tee "results/fit-time/$name-30.txt"
