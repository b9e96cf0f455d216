"""ssvae against what a practitioner would use instead, on one and the same split.

The split is `ssvae.data.make_split` with the given seed: N labels per class, the rest of the training images
unlabeled (marked -1), the validation part left out entirely (no model selection: every model keeps its last
epoch), the official test split for scoring. The scikit-learn rows come from `ssvae.evaluation.baselines`.

    python benchmarks/compare.py --dataset digits --labels-per-class 10 --epochs 100
    python benchmarks/compare.py --dataset digits --labels-per-class 10 --epochs 100 --features m1
    python benchmarks/compare.py --dataset fashion-mnist --data-dir ../shared/data --runs RUN_DIR [RUN_DIR ...]

With --runs, the ssvae rows are read from finished run directories (`ssvae train` + `ssvae evaluate`, last
checkpoint) that share one split, and the baselines use that split (read from the small run directories that
`ssvae reproduce` writes beside them, when there); otherwise SemiSupervisedClassifier is fit here. With a
feature stage (`--features m1`, or runs trained with one) the baselines are also fit on its code (the posterior
means of the first such run's stage 1).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch

from ssvae import SemiSupervisedClassifier
from ssvae.data import Split, load_dataset, make_split
from ssvae.data.preprocess import unit_intensities as unit
from ssvae.evaluation.baselines import BASELINES, CODE_BASELINES, run_baselines, usable
from ssvae.experiments.tables import format_table
from ssvae.records import rundir as ck
from ssvae.training.stage1 import FINAL, code_function, stage_encoder

ESTIMATORS = {
    "ssvae M2 (estimator defaults)": dict(),
    "ssvae M2+MIER": dict(mier=True),
    "ssvae supervised-only network": dict(model="classifier"),
}


def estimator_rows(ds, split: Split, epochs: int, seed: int, features: str | None) -> tuple[list[dict], object]:
    """The estimator's rows, and with `features` the same rows on the stage's code (and that stage's encoder)."""
    x = np.concatenate([ds.x_train[split.labeled], ds.x_train[split.unlabeled]])
    y = np.concatenate([ds.y_train[split.labeled], np.full(len(split.unlabeled), -1)])
    rows, code = [], None
    variants = list(ESTIMATORS.items())
    if features:
        variants += [(f"{name} on {features}'s code", {**kw, "features": features}) for name, kw in ESTIMATORS.items()]
    for name, kw in variants:
        t0 = time.perf_counter()
        est = SemiSupervisedClassifier(epochs=epochs, random_state=seed, **kw).fit(unit(x), y)
        seconds = time.perf_counter() - t0
        acc = 100.0 * est.score(unit(ds.x_test), ds.y_test)
        rows.append({"model": f"{name}, {epochs} epochs", "test_accuracy": acc, "fit_seconds": seconds})
        if "features" in kw and code is None:
            code = code_function(est.model_.stage)  # the fitted stage's q(z|x) mean
    return rows, code


def run_rows(runs: list[Path]) -> tuple[list[dict], Split]:
    rows, splits = [], []
    for r in runs:
        m = ck.read_json(r / ck.METRICS)
        stage = ck.read_json(r / ck.CONFIG).get("features")
        head = f"{stage['name']}+" if stage else ""
        label = f"ssvae {head}{m['model']}{'+MIER' if m['mier'] else ''} (ssvae train), {m['epochs']} epochs"
        rows.append({"model": label, "test_accuracy": m["last"]["test_accuracy"], "fit_seconds": m["train_seconds"]})
        splits.append(Split.load(r / ck.SPLIT))
    if any(not np.array_equal(s.labeled, splits[0].labeled) for s in splits):
        raise SystemExit("the runs do not share one split (give runs of the same data set, labels and seed)")
    return rows, splits[0]


def baseline_rows(ds, split: Split, runs: list[Path] | None, code=None) -> list[dict]:
    """The baselines `ssvae reproduce` already fit beside the runs (RUNS/<dataset>/<slug>/n<L>/seed<S>), if any;
    the rest are fit here; with `code` (a stage's encoder) the baselines on the code too."""
    rows = []
    table = {**BASELINES, **(CODE_BASELINES if code is not None else {})}
    for slug in usable(list(table)):
        name = table[slug][0]
        beside = runs and len(runs[0].resolve().parents) > 2  # a run directory at RUNS/<dataset>/<variant>/n<L>/seed<S>
        done = runs[0].parents[2] / slug / runs[0].parent.name / runs[0].name / ck.METRICS if beside else None
        if done is not None and done.exists():
            m = ck.read_json(done)
            acc, seconds = m["best"]["test_accuracy"], m["train_seconds"]
            rows.append({"baseline": name, "test_accuracy": acc, "fit_seconds": seconds})
        else:
            rows += run_baselines(ds, split, [slug], code if slug in CODE_BASELINES else None)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="digits")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--labels-per-class", type=int, default=10)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs", nargs="*", type=Path, default=None)
    p.add_argument("--features", default=None, help="also the estimator on this feature stage's code (m1)")
    a = p.parse_args()
    ds = load_dataset(a.dataset, a.data_dir)
    if a.runs:
        rows, split = run_rows(a.runs)
        stages = [r / ck.FEATURE_STAGE for r in a.runs if (r / ck.FEATURE_STAGE / FINAL).exists()]
        code = stage_encoder(stages[0]) if stages else None
    else:
        split = make_split(ds.y_train, a.labels_per_class, None, a.seed)
        rows, code = estimator_rows(ds, split, a.epochs, a.seed, a.features)
    for b in baseline_rows(ds, split, a.runs, code):
        rows.append({"model": f"scikit-learn {b['baseline']}", **{k: b[k] for k in ("test_accuracy", "fit_seconds")}})
    print(
        f"\n{a.dataset}: {len(split.labeled)} labeled + {len(split.unlabeled)} unlabeled training images, "
        f"{len(ds.y_test)} test images, seed {a.seed}; CPU {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads\n"
    )
    print(format_table(rows, [("model", "model"), ("test acc %", "test_accuracy"), ("fit seconds", "fit_seconds")]))


if __name__ == "__main__":
    main()
