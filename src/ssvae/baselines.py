"""What a practitioner would use instead: scikit-learn's classifiers on exactly the split a run trains on.

Each baseline sees the run's labeled examples, its unlabeled examples (the semi-supervised ones), never its
validation or test images; it is scored on the test split. Pixels go in as [0, 1] intensities, as the
generative models see them.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from .data import Dataset, Split


def _logistic():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


def logistic_labels_only(x_lab, y_lab, x_unl):
    return _logistic().fit(x_lab, y_lab)


def label_spreading(x_lab, y_lab, x_unl):
    from sklearn.semi_supervised import LabelSpreading

    x = np.concatenate([x_lab, x_unl])
    y = np.concatenate([y_lab, np.full(len(x_unl), -1)])
    return LabelSpreading(kernel="knn", n_neighbors=10, max_iter=100, n_jobs=-1).fit(x, y)


def self_training(x_lab, y_lab, x_unl):
    from sklearn.semi_supervised import SelfTrainingClassifier

    x = np.concatenate([x_lab, x_unl])
    y = np.concatenate([y_lab, np.full(len(x_unl), -1)])
    return SelfTrainingClassifier(_logistic(), threshold=0.9, max_iter=10).fit(x, y)


# name -> fit(x_labeled, y_labeled, x_unlabeled) returning a fitted classifier
BASELINES: dict[str, Callable] = {
    "logistic regression (labels only)": logistic_labels_only,
    "label spreading (knn, k=10)": label_spreading,
    "self-training (logistic regression)": self_training,
}


def unit(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)


def run_baselines(ds: Dataset, split: Split, names: list[str] | None = None) -> list[dict]:
    """Test accuracy (%) and fit seconds of each baseline on one split."""
    x_lab, y_lab = unit(ds.x_train[split.labeled]), ds.y_train[split.labeled]
    x_unl, x_test = unit(ds.x_train[split.unlabeled]), unit(ds.x_test)
    rows = []
    for name in names or list(BASELINES):
        t0 = time.perf_counter()
        clf = BASELINES[name](x_lab, y_lab, x_unl)
        seconds = time.perf_counter() - t0
        acc = 100.0 * float((clf.predict(x_test) == ds.y_test).mean())
        rows.append({"baseline": name, "test_accuracy": acc, "fit_seconds": seconds})
    return rows
