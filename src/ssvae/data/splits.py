"""Which training examples are labeled, unlabeled and held out for validation: drawn once from a seed."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import SSVAEError, warn
from ..files import replace_atomically
from .sources import UNLABELED


@dataclass(frozen=True)
class Split:
    """Indices into the training split; the three parts are disjoint and together cover it."""

    labeled: np.ndarray
    unlabeled: np.ndarray
    validation: np.ndarray

    def save(self, path: str | os.PathLike) -> None:
        parts = dict(labeled=self.labeled, unlabeled=self.unlabeled, validation=self.validation)
        replace_atomically(path, lambda f: np.savez(f, **parts))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Split":
        with np.load(path) as f:
            return cls(f["labeled"], f["unlabeled"], f["validation"])


def default_val_size(n_train: int) -> int:
    """5000 as the paper's relatives do, but never more than a tenth of a small training split."""
    return min(5000, n_train // 10)


def make_split(
    y_train: np.ndarray,
    labels_per_class: int | None,
    val_size: int | None,
    seed: int,
    val_from: str = "labeled",
    classes: np.ndarray | None = None,
) -> Split:
    """The split a seed draws: validation held out at random, then exactly `labels_per_class` labeled per class; the
    rest of the training split is unlabeled.

    Data with its own -1 marks keeps them (`own_marks_split`); `labels_per_class` must then be None.

    Parameters
    ----------
    y_train : ndarray of shape (n_samples,)
    labels_per_class : int or None
    val_size : int or None
        Validation rows (default: min(5000, a tenth of the training split)).
    seed : int
    val_from : str
        "labeled" (validation has labels) or "unlabeled" (for `--select val-elbo`).
    classes : ndarray, optional

    Returns
    -------
    Split
        Index arrays into the training split: `labeled`, `unlabeled`, `validation`.
    """
    if (y_train == UNLABELED).any():
        if labels_per_class is not None:
            raise SSVAEError(
                "this data set marks its unlabeled examples with -1, so its labels are its own: "
                "drop --labels-per-class (or give every example its label to have them drawn)"
            )
        return own_marks_split(y_train, val_size or 0, seed, val_from)
    if labels_per_class is None:
        raise SSVAEError("give --labels-per-class: this data set has no -1 marks saying which labels to keep")
    n = len(y_train)
    val_size = default_val_size(n) if val_size is None else val_size
    if labels_per_class < 1:
        raise SSVAEError(f"--labels-per-class must be at least 1, got {labels_per_class}")
    if not 0 <= val_size < n:
        raise SSVAEError(f"--val-size {val_size} must lie in 0..{n - 1} (the training split has {n} images)")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    validation, rest = np.sort(perm[:val_size]), perm[val_size:]
    labeled = []
    counts = np.bincount(y_train[y_train >= 0], minlength=int(y_train.max()) + 1)
    median = int(np.median(counts))
    for k in range(int(y_train.max()) + 1):
        members = rest[y_train[rest] == k]
        name = k if classes is None else classes[k]
        stray = f"class {name} has only {counts[k]} training image(s) where the median class has {median}"
        if len(members) < labels_per_class:
            if counts[k] * 10 < median:
                raise SSVAEError(f"{stray}: a mistyped label? Fix y_train, or lower --labels-per-class")
            raise SSVAEError(
                f"--labels-per-class {labels_per_class} is more than class {name} has "
                f"({len(members)} training images outside validation); use at most {len(members)}"
            )
        if counts[k] * 10 < median:  # trains as a class of its own: say so, it may be a typo
            warn(f"{stray}: a mistyped label? It is trained as a class of its own")
        labeled.append(members[:labels_per_class])  # `rest` is already in random order
    labeled = np.sort(np.concatenate(labeled))
    unlabeled = np.sort(np.setdiff1d(rest, labeled))
    if len(unlabeled) == 0:
        raise SSVAEError("no unlabeled images remain; lower --labels-per-class or --val-size")
    return Split(labeled, unlabeled, validation)


def own_marks_split(y: np.ndarray, val_size: int, seed: int, val_from: str = "labeled") -> Split:
    """Labeled rows are those with a label, unlabeled those marked -1 (all rows when none is marked: the
    unlabeled bound then runs on the labeled images too). `val_size` rows are held out for model selection:
    labeled ones, drawn per class in proportion and leaving every class at least one training label, for
    selection by accuracy; or unlabeled ones (`val_from="unlabeled"`) for selection by the ELBO."""
    rng = np.random.default_rng(seed)
    labeled, unlabeled = np.flatnonzero(y >= 0), np.flatnonzero(y == UNLABELED)
    validation = np.zeros(0, dtype=np.int64)
    if val_size > 0 and val_from == "labeled":
        counts = np.bincount(y[labeled])
        take = np.floor(counts * val_size / len(labeled)).astype(int)
        extra = rng.permutation(np.flatnonzero(counts - take > 1))[: max(0, val_size - take.sum())]
        take[extra] += 1
        if np.any(counts - take < 1) or take.sum() < val_size:
            raise SSVAEError(
                f"cannot hold out {val_size} labeled examples for validation and keep a training label in every "
                f"class (labels per class: {counts.tolist()}); hold out fewer, or select without labels"
            )
        validation = np.concatenate([rng.permutation(labeled[y[labeled] == k])[:t] for k, t in enumerate(take)])
        labeled = np.setdiff1d(labeled, validation)
    elif val_size > 0:
        pool = unlabeled if len(unlabeled) else labeled
        if val_size >= len(pool):
            raise SSVAEError(f"cannot hold out {val_size} of {len(pool)} unlabeled examples for validation")
        validation = rng.choice(pool, val_size, replace=False)
        unlabeled = np.setdiff1d(unlabeled, validation)
    if len(unlabeled) == 0:
        unlabeled = labeled
    return Split(np.sort(labeled), np.sort(unlabeled), np.sort(validation))


def labeled_validation(y_val) -> bool:
    """True when there is a validation set and every one of its examples has a label (selection by accuracy)."""
    return len(y_val) > 0 and bool((y_val >= 0).all())


TEST_FRACTION = 0.2  # of each class's labeled rows, held out as the test split of data that brings none


def hold_out_test(y: np.ndarray, seed: int, source: str, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices to train on and to test on, for data without a test split: `TEST_FRACTION` of each class's
    labeled rows (at least one) drawn by the seed; every class keeps at least one labeled row to train on."""
    counts = np.bincount(y[y >= 0], minlength=len(classes))
    short = [f"{classes[k]} ({counts[k]})" for k in range(len(classes)) if counts[k] < 2]
    if short:
        raise SSVAEError(
            f"{source}: has no test split, and too few labels to hold one out: each class needs at least 2 labeled "
            f"rows (1 to test, 1 to train), but {', '.join(short[:5])} {'has' if len(short) == 1 else 'have'} fewer; "
            "label more rows, or give a test split"
        )
    rng = np.random.default_rng(seed)
    take = np.maximum(1, np.floor(counts * TEST_FRACTION).astype(int))
    test = np.concatenate([rng.permutation(np.flatnonzero(y == k))[:t] for k, t in enumerate(take)])
    return np.setdiff1d(np.arange(len(y)), test), np.sort(test)


def held_out_words(n_test: int, seed: int) -> str:
    """How a held-out test split came about, for the run's record."""
    return f"held out of the labeled rows by seed {seed}: {TEST_FRACTION:.0%} of each class, {n_test} rows"
