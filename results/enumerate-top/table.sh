#!/usr/bin/env bash
# The enumeration's table (issue 45) from the committed run files: results/enumerate-top/table.{md,json}. Each
# variant against the same runs with every class enumerated (the campaigns of results/teacher and
# results/curve-scarce on Fashion-MNIST, k = 0 of the digits sweep), paired by seed. Run from the repository root.
set -euo pipefail
e=results/enumerate-top/runs t=results/teacher/runs/fashion-mnist/calder-t0.01 p=results/curve-scarce/runs/fashion-mnist
args=()
for n in 1 5 10 30 100; do
  for k in 1 2 3; do
    args+=(--compare "Fashion-MNIST, $n/class, M2 taught on Calder's code, k = $k" "$t/n$n/seed*" "$e/fashion-mnist/calder-t0.01-top$k/n$n/seed*")
  done
done
for k in 1 2 3; do
  args+=(--compare "Fashion-MNIST, 100/class, M2 on the pixels, k = $k" "$p/m2-pixels/n100/seed*" "$e/fashion-mnist/none-t0-top$k/n100/seed*")
done
for model in m2 adgm lvae; do
  for k in 1 2 3; do
    args+=(--compare "digits, 10/class, $model, k = $k" "$e/digits/$model/n10/top0/seed*" "$e/digits/$model/n10/top$k/seed*")
  done
done
python benchmarks/enumeration_table.py --out results/enumerate-top/table --skip-empty "${args[@]}"
