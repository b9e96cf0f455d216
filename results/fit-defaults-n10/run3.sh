#!/usr/bin/env bash
# Issue 31 item 3, seeds 1 and 2 of the lr 1e-3 candidate (30 stage-1 epochs, M2 hidden 600 on the code), one
# process per seed, one thread each, resumable: rerun to continue. Validation only.
cd /work/main && . .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
C="--dataset fashion-mnist --data-dir /work/shared/data --labels-per-class 10 --features m1 --warmup-epochs 4 --device cpu --batch-size 200 --labeled-batch-size 200 --features-dir /work/campaign/features"
go() { name=$1; shift; ssvae train $C "$@" --out /work/campaign/runs/$name > /work/campaign/$name.log 2>&1; }
go lr1e-3-h600-s$1 --seed $1 --lr 1e-3 --feature-epochs 30 --epochs 25
