#!/usr/bin/env bash
# Issue 31 item 3: how many epochs, which lr and which stage-2 width reach the winning validation accuracy on
# Fashion-MNIST at 10 labels per class (validation only). One thread, resumable: rerun to continue.
cd /work/main && . .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
C="--dataset fashion-mnist --data-dir /work/shared/data --labels-per-class 10 --features m1 --warmup-epochs 4 --device cpu --batch-size 200 --labeled-batch-size 200 --features-dir /work/campaign/features"
go() { name=$1; shift; ssvae train $C "$@" --out /work/campaign/runs/$name > /work/campaign/$name.log 2>&1; }
go lr1e-3-h200-s0 --seed 0 --lr 1e-3 --feature-epochs 30 --epochs 30 --hidden 200 --classifier-hidden 200
go lr1e-3-h600-s0 --seed 0 --lr 1e-3 --feature-epochs 30 --epochs 30
go lr1e-3-h200-s1 --seed 1 --lr 1e-3 --feature-epochs 30 --epochs 30 --hidden 200 --classifier-hidden 200
go lr1e-3-h200-s2 --seed 2 --lr 1e-3 --feature-epochs 30 --epochs 30 --hidden 200 --classifier-hidden 200
go lr3e-4-h600-s0 --seed 0 --lr 3e-4 --feature-epochs 30 --epochs 30
echo all done > /work/campaign/done
