"""What the estimator's `fit` makes of a user's arrays and parameters, as plain functions: each parameter checked
against the kind its setting declares, X and y checked and encoded (-1 or "-1" marks a row without a label), the
data set and split a fit trains on, and the run's `TrainConfig` with its "auto" epochs resolved."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d

from .core.features import auto_features, auto_teacher
from .core.models import MODEL_OPTIONS, takes_option
from .data import UNLABELED, Dataset, Split, encode_labels, is_unlabeled, own_marks_split
from .data.preprocess import Preprocessing
from .graph.knn import graph_installed
from .settings import KIND_WORDS, fits_kind, kinds, optional
from .training.auto import AUTO_EPOCHS, auto_batch, auto_enumerate_top, auto_epochs, stage_scale, too_few_steps
from .training.config import SETTINGS, TrainConfig
from .training.schedule import steps_per_epoch

# Parameters that decide the network's shape or its feature stage: a warm start cannot change them (it continues
# the fitted network), so a changed one is refused rather than silently ignored.
NETWORK_PARAMS = (
    "model",
    "features",
    "feature_epochs",
    "feature_code",
    "likelihood",
    "hidden",
    "z_dim",
    "classifier_hidden",
)
# Parameters whose kind the run's settings do not declare (the estimator's own), and those that may be None.
OWN_KINDS = {"validation_fraction": "float"}
NULLABLE = {"features"}  # None: the inputs themselves
# parameters that take "auto": resolved by measured rules
AUTO_PARAMS = (*AUTO_EPOCHS, "batch_size", "teacher", "enumerate_top")
# early_stopping value -> (TrainConfig.select, where the held-out rows come from)
SELECTION = {False: ("last", None), True: ("val-accuracy", "labeled"), "elbo": ("val-elbo", "unlabeled")}


def check_params(params: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Each parameter of the kind its setting declares (a whole number for feature_epochs, a number for lr),
    named in the message, before anything is computed; `defaults`: the estimator's own."""
    declared = {**kinds(TrainConfig), **{k: MODEL_OPTIONS[k].type.__name__ for k in MODEL_OPTIONS}, **OWN_KINDS}
    for name, value in params.items():
        if value is None and (defaults.get(name) is None or name in optional(TrainConfig) or name in NULLABLE):
            continue
        if isinstance(value, str) and value == "auto" and name in AUTO_PARAMS:
            continue
        kind = declared.get(name)
        if kind is not None and not fits_kind(value, kind):
            raise ValueError(f"{name} must be {KIND_WORDS.get(kind, kind)}, got {value!r}")
    if params["early_stopping"] not in SELECTION:
        raise ValueError(f"early_stopping must be False, True or 'elbo', got {params['early_stopping']!r}")
    if not 0 < params["validation_fraction"] < 1:
        raise ValueError(f"validation_fraction must lie in (0, 1), got {params['validation_fraction']}")


def check_warm_start(fitted: dict[str, Any], params: dict[str, Any]) -> None:
    """A warm start continues the fitted network: refuse a parameter of `NETWORK_PARAMS` changed since."""
    changed = [k for k in NETWORK_PARAMS if k in fitted and fitted[k] != params[k]]
    if changed:
        k = changed[0]
        raise ValueError(
            f"warm_start continues the fitted network, but {k} changed from {fitted[k]!r} to {params[k]!r} "
            "since it was fitted; set warm_start=False (or call clone) to fit a new one"
        )


def check_X(X, n_features: int | None = None, shape: tuple | None = None, who: str = "the estimator") -> np.ndarray:
    """[N, D], [N, H, W] or [N, H, W, C], finite numbers; with `n_features`, the fitted number of features (one
    example of `shape`)."""
    if np.issubdtype(np.asarray(X).dtype, np.complexfloating):  # check_array would print the array too
        raise ValueError("Complex data not supported: X holds complex numbers; give real values (e.g. magnitudes)")
    x = check_array(X, allow_nd=True, dtype="numeric", ensure_min_samples=1)
    if x.ndim > 4:
        raise ValueError(f"X has shape {x.shape}; expected [N, D], [N, H, W] or [N, H, W, C]")
    found = int(np.prod(x.shape[1:]))
    if n_features is not None and found != n_features:
        raise ValueError(
            f"X has {found} features, but {who} is expecting {n_features} features as input (one example of "
            f"shape {tuple(shape)})"
        )
    return x


def encode_y(x: np.ndarray, y, classes: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """y as class codes (-1: unlabeled) and the classes; with `classes` (a warm start, partial_fit) y's labels must be
    among them."""
    y = column_or_1d(y, warn=True)
    check_consistent_length(x, y)
    unl = is_unlabeled(y)
    if (~unl).any():
        check_classification_targets(y[~unl])
    if classes is None:
        codes, _, classes = encode_labels(y, None, "y")
        return codes, classes
    labeled = y[~unl]
    known = np.isin(labeled, classes)
    if not known.all():
        raise ValueError(
            f"y has labels {sorted({str(v) for v in labeled[~known]})[:5]} that are not among the classes "
            f"{list(classes)[:10]}; fit again without warm_start to learn new classes"
        )
    codes = np.full(len(y), UNLABELED, dtype=np.int64)
    codes[~unl] = np.searchsorted(classes, labeled)
    return codes, classes


def labels_per_class(codes: np.ndarray, classes) -> float:
    """The labeled rows per class, on average: what the "auto" rules are measured by."""
    return int((codes >= 0).sum()) / max(len(classes), 1)


def auto_choices(
    params: dict[str, Any], n_rows: int, likelihood: str, per_class: float, n_classes: int
) -> tuple[str, float, int]:
    """The feature stage, the teacher's weight and the classes enumerated a fit uses: the parameters, or where they
    are "auto" the rules measured for them (`ssvae.core.features.auto_features`, `auto_teacher`,
    `ssvae.training.auto.auto_enumerate_top`) by the rows, the classes and the labels per class (`labels_per_class`)."""
    features = params["features"]
    if features == "auto":
        features = auto_features(n_rows, likelihood, per_class, graph=graph_installed())
    teacher = auto_teacher(features, per_class) if params["teacher"] == "auto" else params["teacher"]
    top = params["enumerate_top"]
    return features, teacher, auto_enumerate_top(n_classes) if top == "auto" else top


def fit_data(
    xp: np.ndarray, codes: np.ndarray, classes: np.ndarray, pre: Preprocessing, params: dict[str, Any], seed: int
) -> tuple[Dataset, Split, str]:
    """The data set (prepared rows `xp`), the split (validation held out as `early_stopping` says) and the run's
    model selection."""
    select, val_from = SELECTION[params["early_stopping"]]
    n_labeled = int((codes >= 0).sum())
    pool = n_labeled if val_from == "labeled" else int((codes < 0).sum()) or len(codes)
    n_val = 0 if val_from is None else max(1, int(round(params["validation_fraction"] * pool)))
    split = own_marks_split(codes, n_val, seed, val_from or "labeled")
    image_shape = tuple(pre.input_shape[:2]) if len(pre.input_shape) == 2 else (1, pre.dim)
    return Dataset("X", xp, codes, xp[:0], codes[:0], image_shape, len(classes), classes), split, select


def warn_if_too_few(cfg: TrainConfig, n_unlabeled: int) -> None:
    """scikit-learn's ConvergenceWarning, one line, when a fit made fewer optimizer steps than the rule asks for these
    rows (`ssvae.training.auto`: a user's `epochs` below it)."""
    spe = steps_per_epoch(n_unlabeled, cfg.batch_size) if n_unlabeled else 1
    short = too_few_steps(cfg.epochs, spe)
    if short is not None:
        made, wanted = short
        warnings.warn(
            f"the fit made {made} optimizer steps ({cfg.epochs} epochs of {spe}), fewer than the {wanted} that "
            f"epochs='auto' gives {n_unlabeled} unlabeled rows (the rule measured in ssvae.training.auto): set "
            f"epochs='auto' or at least {-(-wanted // spe)}",
            ConvergenceWarning,
            stacklevel=3,
        )


def fit_config(
    params: dict[str, Any],
    features: str,
    likelihood: str,
    seed: int,
    epochs: int | None,
    select: str,
    split: Split,
    per_class: float,
) -> TrainConfig:
    """The run's settings: every parameter named like a setting (`TrainConfig`) or a model option (`MODEL_OPTIONS`)
    passes through under its own name, and is checked by the same declarations; "auto" epochs resolved for these
    rows (`AUTO_EPOCHS`; the stage's scaled where labels are scarce and the graph teaches, `stage_scale`), as is an
    "auto" batch size (`auto_batch`); `epochs`: this call's (partial_fit: 1), None for the parameter's; `per_class`:
    `labels_per_class`."""
    n_labeled, n_unlabeled, batch = len(split.labeled), len(split.unlabeled), params["batch_size"]
    if batch == "auto":
        batch = auto_batch(n_unlabeled or n_labeled)
    same = {k: params[k] for k in SETTINGS if k in params and k not in ("epochs", "warmup_epochs", "batch_size")}
    options = {k: params[k] for k in MODEL_OPTIONS if k in params and k != "likelihood" and params[k] is not None}
    model = params["model"]
    if takes_option(model, "likelihood"):
        options["likelihood"] = likelihood  # the resolved one; a supervised-only model has none
    passes = {
        "epochs": steps_per_epoch(n_unlabeled, batch) if n_unlabeled else 1,
        "feature_epochs": steps_per_epoch(n_labeled + n_unlabeled, batch),
    }
    scale = {"epochs": 1, "feature_epochs": stage_scale(per_class, bool(params["teacher"]))}
    resolved = {k: auto_epochs(k, passes[k], scale[k]) if params[k] == "auto" else params[k] for k in AUTO_EPOCHS}
    full = resolved["epochs"]
    warmup = params["warmup_epochs"] if params["warmup_epochs"] is not None else max(1, full // 5)
    epochs = full if epochs is None else epochs
    same.update(features=features, feature_epochs=resolved["feature_epochs"])
    return TrainConfig(
        **same,
        dataset="X",
        seed=seed,
        epochs=epochs,
        lr_decay_every=max(epochs, 1),
        batch_size=batch,
        labeled_batch_size=batch,
        warmup_epochs=warmup,
        select=select,
        model_options=options,
    )
