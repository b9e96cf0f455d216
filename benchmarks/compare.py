"""ssvae against what a practitioner would use instead, on one and the same split.

The split is `ssvae.data.make_split` with the given seed: N labels per class, the rest of the training images
unlabeled (marked -1), the validation part left out entirely (no model selection: every model keeps its last
epoch), the official test split for scoring. The scikit-learn rows come from `ssvae.evaluation.baselines`.

    python benchmarks/compare.py --dataset digits --labels-per-class 10 --epochs 100
    python benchmarks/compare.py --dataset fashion-mnist --data-dir ../shared/data --runs RUN_DIR [RUN_DIR ...]

With --runs, the ssvae rows are read from finished run directories (`ssvae train` + `ssvae evaluate`, last
checkpoint) that share one split, and the baselines use that split (read from the small run directories that
`ssvae reproduce` writes beside them, when there); otherwise SemiSupervisedClassifier is fit here.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch

from ssvae import SemiSupervisedClassifier
from ssvae.cli import format_table
from ssvae.data import Split, load_dataset, make_split
from ssvae.data.preprocess import unit_intensities as unit
from ssvae.evaluation.baselines import BASELINES, run_baselines
from ssvae.training import rundir as ck

ESTIMATORS = {
    "ssvae M2+MIER (estimator defaults)": dict(),
    "ssvae M2": dict(mier=False),
    "ssvae supervised-only network": dict(model="classifier"),
}


def estimator_rows(ds, split: Split, epochs: int, seed: int) -> list[dict]:
    x = np.concatenate([ds.x_train[split.labeled], ds.x_train[split.unlabeled]])
    y = np.concatenate([ds.y_train[split.labeled], np.full(len(split.unlabeled), -1)])
    rows = []
    for name, kw in ESTIMATORS.items():
        t0 = time.perf_counter()
        est = SemiSupervisedClassifier(epochs=epochs, random_state=seed, **kw).fit(unit(x), y)
        seconds = time.perf_counter() - t0
        acc = 100.0 * est.score(unit(ds.x_test), ds.y_test)
        rows.append({"model": f"{name}, {epochs} epochs", "test_accuracy": acc, "fit_seconds": seconds})
    return rows


def run_rows(runs: list[Path]) -> tuple[list[dict], Split]:
    rows, splits = [], []
    for r in runs:
        m = ck.load_json(r / ck.METRICS)
        label = f"ssvae {m['model']}{'+MIER' if m['mier'] else ''} (ssvae train), {m['epochs']} epochs"
        rows.append({"model": label, "test_accuracy": m["last"]["test_accuracy"], "fit_seconds": m["train_seconds"]})
        splits.append(Split.load(r / ck.SPLIT))
    if any(not np.array_equal(s.labeled, splits[0].labeled) for s in splits):
        raise SystemExit("the runs do not share one split (give runs of the same data set, labels and seed)")
    return rows, splits[0]


def baseline_rows(ds, split: Split, runs: list[Path] | None) -> list[dict]:
    """The baselines `ssvae reproduce` already fit beside the runs (RUNS/<dataset>/<slug>/n<L>/seed<S>), if any;
    the rest are fit here."""
    rows = []
    for slug, (name, _) in BASELINES.items():
        done = runs[0].parents[2] / slug / runs[0].parent.name / runs[0].name / ck.METRICS if runs else None
        if done is not None and done.exists():
            m = ck.load_json(done)
            acc, seconds = m["best"]["test_accuracy"], m["train_seconds"]
            rows.append({"baseline": name, "test_accuracy": acc, "fit_seconds": seconds})
        else:
            rows += run_baselines(ds, split, [slug])
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="digits")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--labels-per-class", type=int, default=10)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs", nargs="*", type=Path, default=None)
    a = p.parse_args()
    ds = load_dataset(a.dataset, a.data_dir)
    if a.runs:
        rows, split = run_rows(a.runs)
    else:
        split = make_split(ds.y_train, a.labels_per_class, None, a.seed)
        rows = estimator_rows(ds, split, a.epochs, a.seed)
    for b in baseline_rows(ds, split, a.runs):
        rows.append({"model": f"scikit-learn {b['baseline']}", **{k: b[k] for k in ("test_accuracy", "fit_seconds")}})
    print(
        f"\n{a.dataset}: {len(split.labeled)} labeled + {len(split.unlabeled)} unlabeled training images, "
        f"{len(ds.y_test)} test images, seed {a.seed}; CPU {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads\n"
    )
    print(format_table(rows, [("model", "model"), ("test acc %", "test_accuracy"), ("fit seconds", "fit_seconds")]))


if __name__ == "__main__":
    main()
