#!/usr/bin/env bash
# Issue 31 item 3: how many epochs, which lr, batch and stage-2 width reach the winning validation accuracy on
# Fashion-MNIST at 10 labels per class (validation only). Every run of this folder, one part per campaign as it
# was run; one thread a process, resumable: rerun to continue.
#   bash run.sh first                # lr 1e-3 and 3e-4, M2 200 or 600 wide, seeds 0-2 of the 200-wide
#   bash run.sh second               # lr 3e-4 at seed 0, lr 1e-3 at seed 1, 30 + 30 epochs
#   bash run.sh seeds SEED           # the lr 1e-3 candidate at seeds 1 and 2 (30 + 25 epochs)
#   bash run.sh batch100 SEED        # the estimator's batch of 100 with 30 + 20 epochs
#   bash run.sh narrow HIDDEN SEED   # M2's generative half HIDDEN wide, its classifier 600 (30 + 20 epochs)
set -euo pipefail
cd /work/main && . .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
C="--dataset fashion-mnist --data-dir /work/shared/data --labels-per-class 10 --features m1 --warmup-epochs 4 --device cpu --features-dir /work/campaign/features"
go() { name=$1; shift; ssvae train $C "$@" --out /work/campaign/runs/$name > /work/campaign/$name.log 2>&1; }
B200="--batch-size 200 --labeled-batch-size 200"
case "$1" in
  first)
    go lr1e-3-h200-s0 $B200 --seed 0 --lr 1e-3 --feature-epochs 30 --epochs 30 --hidden 200 --classifier-hidden 200
    go lr1e-3-h600-s0 $B200 --seed 0 --lr 1e-3 --feature-epochs 30 --epochs 30
    go lr1e-3-h200-s1 $B200 --seed 1 --lr 1e-3 --feature-epochs 30 --epochs 30 --hidden 200 --classifier-hidden 200
    go lr1e-3-h200-s2 $B200 --seed 2 --lr 1e-3 --feature-epochs 30 --epochs 30 --hidden 200 --classifier-hidden 200
    go lr3e-4-h600-s0 $B200 --seed 0 --lr 3e-4 --feature-epochs 30 --epochs 30 ;;
  second)
    go lr3e-4-h600-s0 $B200 --seed 0 --lr 3e-4 --feature-epochs 30 --epochs 30
    go lr1e-3-h600-s1 $B200 --seed 1 --lr 1e-3 --feature-epochs 30 --epochs 30 ;;
  seeds) go "lr1e-3-h600-s$2" $B200 --seed "$2" --lr 1e-3 --feature-epochs 30 --epochs 25 ;;
  batch100) go "lr1e-3-b100-s$2" --batch-size 100 --labeled-batch-size 100 --seed "$2" --lr 1e-3 --feature-epochs 30 --epochs 20 ;;
  narrow) go "lr1e-3-h$2c600-s$3" $B200 --seed "$3" --lr 1e-3 --feature-epochs 30 --epochs 20 --hidden "$2" --classifier-hidden 600 ;;
esac
