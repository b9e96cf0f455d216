#!/usr/bin/env bash
# Issue 34: MIER with a smaller beta on M1's code, paired with runs/lr1e-3-h600-s{0,1,2} (same stage, same splits,
# the estimator's defaults otherwise). One thread, resumable: rerun to continue.
cd /work/main && . .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
C="--dataset fashion-mnist --data-dir /work/shared/data --labels-per-class 10 --features m1 --warmup-epochs 4 --device cpu --batch-size 200 --labeled-batch-size 200 --features-dir /work/campaign/features --lr 1e-3 --feature-epochs 30 --epochs 30"
go() { name=$1; shift; ssvae train $C "$@" --out /work/campaign/runs/$name > /work/campaign/$name.log 2>&1; }
for s in 0 1 2; do go mier-b1-s$s --seed $s --mier --beta 1; done
echo all done > /work/campaign/done5
