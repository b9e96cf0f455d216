#!/usr/bin/env bash
# Issue 45: the estimator's default with the enumeration where the mass is (enumerate_top="auto": 2 of the 10
# classes) against the same default enumerating every class (enumerate_top=0, the default before) and label
# spreading, one after another on one quiet machine, the same rows (all 60,000 Fashion-MNIST training images, 10
# labels per class, seed 0).
#   bash results/fit-time/enumerate.sh DATA_DIR NAME     (writes results/fit-time/NAME-{top,every}.json and .txt)
set -euo pipefail
data=$1 name=$2
cd "$(dirname "$0")/../.."
python benchmarks/fit_time.py --data-dir "$data" --methods ssvae sklearn-labelspreading \
  --json "results/fit-time/$name-top.json" | tee "results/fit-time/$name-top.txt"
python benchmarks/fit_time.py --data-dir "$data" --methods ssvae --set enumerate_top=0 \
  --json "results/fit-time/$name-every.json" | tee "results/fit-time/$name-every.txt"
