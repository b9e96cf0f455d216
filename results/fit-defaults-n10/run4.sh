#!/usr/bin/env bash
# Issue 31 item 3: the estimator's batch size (100) with the fast epochs (30 + 20, lr 1e-3), against the batch of
# 200 of run3.sh. One process per seed, one thread each, resumable. Validation only.
cd /work/main && . .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
C="--dataset fashion-mnist --data-dir /work/shared/data --labels-per-class 10 --features m1 --warmup-epochs 4 --device cpu --batch-size 100 --labeled-batch-size 100 --features-dir /work/campaign/features"
go() { name=$1; shift; ssvae train $C "$@" --out /work/campaign/runs/$name > /work/campaign/$name.log 2>&1; }
go lr1e-3-b100-s$1 --seed $1 --lr 1e-3 --feature-epochs 30 --epochs 20
