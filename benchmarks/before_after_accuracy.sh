#!/bin/bash
# Accuracy before and after a change, side by side: the same runs (same seed, split and protocol) trained by the
# library at an earlier commit (a temporary git worktree) and by the working tree, then evaluated by the
# working tree. Prints one markdown table.
#   bash benchmarks/before_after_accuracy.sh BEFORE_REV DATA_DIR EPOCHS OUT [PRECISION...]
# e.g. bash benchmarks/before_after_accuracy.sh 7fbcd5a ../shared/data 5 /tmp/ba fp32 bf16
set -euo pipefail
before=$1 data=$(realpath "$2") epochs=$3 out=$(realpath -m "$4"); shift 4
precisions=${*:-fp32 bf16}
root=$(cd "$(dirname "$0")/.." && pwd)
tree=$out/before-tree
mkdir -p "$out"
[ -d "$tree" ] || git -C "$root" worktree add --detach "$tree" "$before" >/dev/null
trap 'git -C "$root" worktree remove --force "$tree" >/dev/null 2>&1 || true' EXIT
for pr in $precisions; do
  for side in before after; do
    src=$root/src; [ $side = before ] && src=$tree/src
    run=$out/$side-$pr
    PYTHONPATH=$src python -m ssvae train --model m2 --mier --dataset fashion-mnist --labels-per-class 100 \
      --data-dir "$data" --epochs "$epochs" --device cpu --precision "$pr" --seed 0 --out "$run" >"$run.log" 2>&1
    PYTHONPATH=$root/src python -m ssvae evaluate "$run" --iw-samples 20 --no-figures >>"$run.log" 2>&1
  done
done
python - "$out" $precisions <<'PY'
import json, sys
from pathlib import Path
out, precisions = Path(sys.argv[1]), sys.argv[2:]
print("| run | validation accuracy per epoch | test acc best / last | test ELBO last | test IWAE-20 last |")
print("|---|---|---|---|---|")
for pr in precisions:
    for side in ("before", "after"):
        run = out / f"{side}-{pr}"
        rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines() if l.strip()]
        m = json.loads((run / "metrics.json").read_text())
        val = " ".join(f"{r['val_accuracy']:.2f}" for r in rows)
        b, l = m["best"], m["last"]
        print(f"| M2+MIER {pr} {side} | {val} | {b['test_accuracy']:.2f} / {l['test_accuracy']:.2f} | "
              f"{l['test_elbo']:.2f} | {l['test_iwae']:.2f} |")
PY
