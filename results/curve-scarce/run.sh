#!/usr/bin/env bash
# Issue 34, item 3: the label-count curve at 1 and 5 labels per class, Fashion-MNIST, seeds 0-2. Each split: M1+M2
# at the estimator's defaults for 60,000 images (M1 30 epochs, M2 on its code 20 epochs, lr 1e-3, batches of 200,
# warm-up 4), then every baseline (scikit-learn's and the graph methods, on the pixels and on that run's M1 code)
# on the same split. One thread; resumable: rerun to continue (a finished run or baseline is skipped).
#   bash results/curve-scarce/run.sh LABELS CAMPAIGN_DIR DATA_DIR     (one process per label count)
set -euo pipefail
labels=$1 campaign=$2 data=$3
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
for seed in 0 1 2; do
  run=$campaign/runs/n$labels-s$seed
  ssvae train --dataset fashion-mnist --data-dir "$data" --labels-per-class "$labels" --seed "$seed" \
    --features m1 --feature-epochs 30 --epochs 20 --lr 1e-3 --batch-size 200 --labeled-batch-size 200 \
    --warmup-epochs 4 --device cpu --features-dir "$campaign/features" --out "$run"
  ssvae evaluate --no-figures "$run"
  python benchmarks/baselines_on_splits.py --data-dir "$data" --out "$campaign/baselines" --labels "$labels" \
    --seeds "$seed" --runs "$run"
done
