"""What a practitioner would use instead: scikit-learn's classifiers, and the graph methods of Calder et al.'s
`graphlearning` (`ssvae.graph.propagation`), on exactly the split a run trains on.

Each baseline sees the run's labeled examples, its unlabeled examples (the semi-supervised ones), never its
validation or test images; it is scored on the test split. Pixels go in as [0, 1] intensities, as the
generative models see them; each baseline also runs on a feature stage's code (`CODE_BASELINES`: the same
classifier on the posterior means of the run's trained M1), so that ssvae's stacked models meet the same
features in the hands of scikit-learn.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..core.features import FEATURES
from ..data import Dataset, Split, load_dataset
from ..data.preprocess import unit_intensities
from ..errors import warn
from ..graph.propagation import laplace_learning, poisson_learning
from ..records import rundir as ck


def _logistic():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


def logistic_labels_only(x_lab, y_lab, x_unl):
    """scikit-learn's logistic regression on the labeled rows alone."""
    return _logistic().fit(x_lab, y_lab)


def label_spreading(x_lab, y_lab, x_unl):
    """scikit-learn's LabelSpreading on a k = 10 nearest-neighbour graph of labeled and unlabeled rows."""
    from sklearn.semi_supervised import LabelSpreading

    x = np.concatenate([x_lab, x_unl])
    y = np.concatenate([y_lab, np.full(len(x_unl), -1)])
    return LabelSpreading(kernel="knn", n_neighbors=10, max_iter=100, n_jobs=-1).fit(x, y)


def self_training(x_lab, y_lab, x_unl):
    """scikit-learn's SelfTrainingClassifier around logistic regression (threshold 0.9, 10 rounds)."""
    from sklearn.semi_supervised import SelfTrainingClassifier

    x = np.concatenate([x_lab, x_unl])
    y = np.concatenate([y_lab, np.full(len(x_unl), -1)])
    return SelfTrainingClassifier(_logistic(), threshold=0.9, max_iter=10).fit(x, y)


# slug -> (display name, fit(x_labeled, y_labeled, x_unlabeled) returning a fitted classifier)
BASELINES: dict[str, tuple[str, Callable]] = {
    "sklearn-logreg": ("scikit-learn logistic regression (labels only)", logistic_labels_only),
    "sklearn-labelspreading": ("scikit-learn label spreading (knn, k=10)", label_spreading),
    "sklearn-selftraining": ("scikit-learn self-training (logistic regression)", self_training),
    "graph-laplace": ("Laplace learning (graphlearning, knn, k=10)", laplace_learning),
    "graph-poisson": ("Poisson learning (graphlearning, knn, k=10)", poisson_learning),
}
# slug -> the optional package it needs (an extra of ssvae): without it the baseline is left out, said once
REQUIRES = {"graph-laplace": "graphlearning", "graph-poisson": "graphlearning"}


# slug on a stage's code -> (display name, fit): "m1-sklearn-logreg", ...
CODE_BASELINES: dict[str, tuple[str, Callable]] = {
    f"{stage}-{slug}": (f"{name} on {entry.label}'s code", fit)
    for stage, entry in FEATURES.items()
    for slug, (name, fit) in BASELINES.items()
}
ALL_BASELINES = {**BASELINES, **CODE_BASELINES}


def installed(slug: str) -> bool:
    """Whether a baseline's optional package (`REQUIRES`) is importable; a code baseline needs what its own does."""
    base = next((b for b in BASELINES if slug == b or slug.endswith(f"-{b}")), slug)
    return base not in REQUIRES or importlib.util.find_spec(REQUIRES[base]) is not None


_LEFT_OUT: set[str] = set()  # baselines already said to be missing in this process


def usable(slugs: list[str]) -> list[str]:
    """`slugs` without those whose package is missing, with one warning (once a process) naming them and the extra
    to install."""
    missing = [s for s in slugs if not installed(s)]
    new = [s for s in missing if s not in _LEFT_OUT]
    if new:
        warn(f'left out {", ".join(new)}: pip install "ssvae[graph]" to add them')
        _LEFT_OUT.update(new)
    return [s for s in slugs if s not in missing]


def run_baselines(
    ds: Dataset, split: Split, names: list[str] | None = None, code: Callable[[np.ndarray], np.ndarray] | None = None
) -> list[dict]:
    """Test accuracy (%) and fit seconds of each baseline on one split; with `code` (a feature stage's encoder,
    `ssvae.training.stage1.stage_encoder`) the `CODE_BASELINES`, fit on the code of the same examples."""
    table = CODE_BASELINES if code is not None else BASELINES
    code = code or (lambda x: x)
    x_lab, y_lab = code(unit_intensities(ds.x_train[split.labeled])), ds.y_train[split.labeled]
    x_unl, x_test = code(unit_intensities(ds.x_train[split.unlabeled])), code(unit_intensities(ds.x_test))
    rows = []
    for slug in names or usable(list(table)):
        name, fit = table[slug]
        t0 = time.perf_counter()
        clf = fit(x_lab, y_lab, x_unl)
        seconds = time.perf_counter() - t0
        acc = 100.0 * float((clf.predict(x_test) == ds.y_test).mean())
        rows.append({"slug": slug, "baseline": name, "test_accuracy": acc, "fit_seconds": seconds})
    return rows


def write_baseline_runs(
    root: Path,
    dataset: str,
    labels: int,
    seed: int,
    split_path: Path,
    data_dir,
    stage: Path | None = None,
    only: list[str] | None = None,
) -> list[Path]:
    """One small run directory per baseline beside the generative runs of this split (ROOT/<dataset>/<slug>/
    n<labels>/seed<seed>), with config.json and metrics.json as `ssvae report` reads them; skipped when done.
    `stage`: a run's finished feature stage (its `features/` folder): the baselines on its code too. `only`: these
    baselines (slugs) of those, for a campaign that adds rows beside baselines already fit."""
    from ..training.stage1 import KEY_SHAPE, stage_encoder

    slugs = list(BASELINES)
    if stage is not None:
        name = ck.read_json(stage / ck.CONFIG, KEY_SHAPE)["features"]
        slugs += [s for s in CODE_BASELINES if s.startswith(f"{name}-")]
    slugs = usable([s for s in slugs if only is None or s in only])
    dirs = {slug: root / Path(dataset).stem / slug / f"n{labels}" / f"seed{seed}" for slug in slugs}
    todo = [slug for slug, d in dirs.items() if not (d / ck.METRICS).exists()]
    if not todo:
        return []
    split = Split.load(split_path)
    ds = load_dataset(dataset, data_dir)
    code = stage_encoder(stage) if stage is not None else None
    for slug in todo:  # one at a time, each saved as soon as it is fit
        (row,) = run_baselines(ds, split, [slug], code if slug in CODE_BASELINES else None)
        d = dirs[slug]
        d.mkdir(parents=True, exist_ok=True)
        split.save(d / ck.SPLIT)
        cfg = {"model": row["slug"], "mier": False, "dataset": dataset, "labels_per_class": labels, "seed": seed}
        ck.save_json(d / ck.CONFIG, {"config": cfg})
        result = {"test_accuracy": row["test_accuracy"], "test_entropy": None, "test_elbo": None, "test_iwae": None}
        ck.save_json(
            d / ck.METRICS,
            {**cfg, "epochs": 0, "best_epoch": 0, "train_seconds": row["fit_seconds"], "best": result, "last": result},
        )
    return [dirs[s] for s in todo]


def who_wins(rows: list[dict], baselines: list[dict], n_test: int) -> str:
    """One sentence: the best ssvae row (`model`, `test_accuracy`) against the best baseline on one split, with
    the binomial standard error of the baseline's accuracy as the scale of the noise."""
    best_b = max(baselines, key=lambda r: r["test_accuracy"])
    best_m = max(rows, key=lambda r: r["test_accuracy"])
    gap = best_m["test_accuracy"] - best_b["test_accuracy"]
    se = 100 * (best_b["test_accuracy"] / 100 * (1 - best_b["test_accuracy"] / 100) / n_test) ** 0.5
    verdict = "beats" if gap > 0 else "trails"
    noise = (
        "a gap of that size is within the noise"
        if abs(gap) < 2 * se
        else "a gap of that size is more than two standard errors, but one split is one draw"
    )
    return (
        f"On this one split the best ssvae model ({best_m['model']}, {best_m['test_accuracy']:.2f}%) {verdict} the "
        f"best baseline ({best_b['baseline']}, {best_b['test_accuracy']:.2f}%) by {abs(gap):.2f} "
        f"points. One seed and {n_test} test images: one binomial standard error is {se:.1f} points, so {noise}; "
        "`ssvae reproduce` gives several seeds and confidence intervals."
    )
