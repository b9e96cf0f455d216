#!/usr/bin/env bash
# Issue 43, item 2: the graph teacher's weight, chosen on validation. M1+M2 at the estimator's schedule for 60,000
# images (stage 1 30 epochs, M2 on its code 20 epochs, lr 1e-3, batches of 200, warm-up 4: the settings of
# results/fit-defaults-n10 and results/curve-scarce, on the same splits), with the stage FEATURES (default calder)
# and --teacher WEIGHT, Fashion-MNIST, seed SEED, LABELS per class; TOP=k adds --enumerate-top k (issue 45) and
# "-topk" to the run's name; FEATURE_EPOCHS=e trains the stage e epochs instead of 30 and adds "-fee". One thread;
# resumable.
#   FEATURES=calder [TOP=2] [FEATURE_EPOCHS=60] bash results/teacher/run.sh LABELS SEED WEIGHT CAMPAIGN_DIR DATA_DIR
set -euo pipefail
labels=$1 seed=$2 weight=$3 campaign=$4 data=$5
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
ssvae train --dataset fashion-mnist --data-dir "$data" --labels-per-class "$labels" --seed "$seed" \
  --features "${FEATURES:-calder}" --feature-epochs "${FEATURE_EPOCHS:-30}" --epochs 20 --lr 1e-3 --batch-size 200 --labeled-batch-size 200 \
  --warmup-epochs 4 --device cpu --features-dir "$campaign/features" --teacher "$weight" \
  ${TOP:+--enumerate-top "$TOP"} --out "$campaign/runs/${FEATURES:-calder}-n$labels-s$seed-t$weight${TOP:+-top$TOP}${FEATURE_EPOCHS:+-fe$FEATURE_EPOCHS}"
