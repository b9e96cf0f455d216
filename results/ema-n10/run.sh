#!/usr/bin/env bash
# Issue 34, a lever: an exponential moving average of M2's weights (--ema 0.999, about the last 1,000 steps or 3.6
# epochs) on M1's code at 10 labels per class, the estimator's schedule for 60,000 images (M1 30 epochs, M2 20,
# lr 1e-3, batches of 200). The average changes nothing in training, so each run trains exactly the weights of
# results/fit-defaults-n10's lr1e-3-h600-s<seed> (same stage, split, batch order and noise): paired by construction.
#   bash results/ema-n10/run.sh SEED CAMPAIGN_DIR DATA_DIR      (one process per seed, one thread; resumable)
set -euo pipefail
seed=$1 campaign=$2 data=$3
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
run=$campaign/runs/ema0.999-h600-s$seed
ssvae train --dataset fashion-mnist --data-dir "$data" --labels-per-class 10 --seed "$seed" \
  --features m1 --feature-epochs 30 --epochs 20 --lr 1e-3 --batch-size 200 --labeled-batch-size 200 \
  --warmup-epochs 4 --device cpu --features-dir "$campaign/features" --ema 0.999 --out "$run"
ssvae evaluate --no-figures "$run"
