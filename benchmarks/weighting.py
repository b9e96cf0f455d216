"""Which weighting of eq. 4/9 to default to: M2 and M2+MIER under `sum` and `mean`, validation accuracy only.

Trains (or resumes, or just reads) one run per model x weighting x seed into OUT/{m2,m2-mier}-{sum,mean}/seed{S}
and prints a markdown table of validation accuracy (best epoch and last epoch), the last validation entropy of
the mean prediction (log K when every class is predicted equally often, 0 when all go to one class), and how
many evaluations the collapse guard flagged. The test split is never read.

    python benchmarks/weighting.py --dataset digits --labels-per-class 10 --epochs 100 --seeds 0 1 2 --out DIR
    python benchmarks/weighting.py --dataset fashion-mnist --data-dir ../shared/data --epochs 50 --out DIR
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from ssvae.records import rundir as ck
from ssvae.training.config import TrainConfig
from ssvae.training.loop import train

VARIANTS = [(mier, w) for w in ("sum", "mean") for mier in (False, True)]


def run_dir(out: Path, mier: bool, weighting: str, seed: int) -> Path:
    return out / f"m2{'-mier' if mier else ''}-{weighting}" / f"seed{seed}"


def row(runs: list[Path], label: str, upto: int | None = None) -> str:
    hist = [[r for r in ck.read_history(run / ck.HISTORY) if upto is None or r["epoch"] <= upto] for run in runs]
    hist = [h for h in hist if h]
    if not hist:
        return f"| {label} | 0 | – | – | – | – | – |"

    def mean(xs: list[float]) -> str:
        return f"{statistics.mean(xs):.2f}" + (f" ± {statistics.stdev(xs):.2f}" if len(xs) > 1 else "")

    best = [max(r["val_accuracy"] for r in h) for h in hist]
    last = [h[-1]["val_accuracy"] for h in hist]
    marg = [h[-1]["val_marginal_entropy"] for h in hist]
    flagged = sum(sum(bool(r.get("collapsed")) for r in h) for h in hist)
    epochs = "/".join(sorted({str(h[-1]["epoch"]) for h in hist}))
    return f"| {label} | {len(hist)} | {epochs} | {mean(best)} | {mean(last)} | {mean(marg)} | {flagged} |"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="digits")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--labels-per-class", type=int, default=10)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--out", required=True)
    p.add_argument("--no-train", action="store_true", help="only summarise the run directories already there")
    p.add_argument("--upto", type=int, default=None, help="summarise epochs 1..UPTO only (runs that went further)")
    a = p.parse_args()
    out = Path(a.out)
    if not a.no_train:
        for seed in a.seeds:
            for mier, weighting in VARIANTS:
                cfg = TrainConfig(
                    model="m2",
                    mier=mier,
                    weighting=weighting,
                    dataset=a.dataset,
                    data_dir=a.data_dir,
                    labels_per_class=a.labels_per_class,
                    epochs=a.epochs,
                    warmup_epochs=max(1, a.epochs // 5),
                    seed=seed,
                    device="cpu",
                )
                train(cfg, run_dir(out, mier, weighting, seed), progress=False)
    print(f"\n{a.dataset}, {a.labels_per_class} labels per class, validation accuracy (%)\n")
    print("| M2 variant | seeds | epochs | best val acc | last val acc | last H(mean q) nats | collapsed evals |")
    print("|---|---|---|---|---|---|---|")
    for mier, weighting in VARIANTS:
        label = f"M2{'+MIER' if mier else ''}, {weighting}"
        print(row([run_dir(out, mier, weighting, s) for s in a.seeds], label, a.upto))


if __name__ == "__main__":
    main()
