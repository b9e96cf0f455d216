#!/usr/bin/env bash
# Issue 31 item 3: a narrower generative half of M2 on the code (q(z|x,y) and p(x|y,z) HIDDEN wide, the classifier
# q(y|x) kept at 600): the enumeration over 10 classes runs through the generative half only, so its width sets
# most of stage 2's FLOPs. Paired with run3.sh's lr1e-3-h600-s{0,1,2} (same stages, same splits). Validation only.
#   bash run5.sh HIDDEN SEED      (one process per seed, one thread each, resumable)
cd /work/main && . .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
C="--dataset fashion-mnist --data-dir /work/shared/data --labels-per-class 10 --features m1 --warmup-epochs 4 --device cpu --batch-size 200 --labeled-batch-size 200 --features-dir /work/campaign/features"
go() { name=$1; shift; ssvae train $C "$@" --out /work/campaign/runs/$name > /work/campaign/$name.log 2>&1; }
go lr1e-3-h$1c600-s$2 --seed $2 --lr 1e-3 --feature-epochs 30 --epochs 20 --hidden $1 --classifier-hidden 600
