"""`ssvae evaluate`: a finished run directory's test numbers (accuracy, Table 2's entropy and bounds), figures.

This is the only module that reads the official test split, and only after training has finished.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from ..core.features import build_network
from ..core.models import SemiSupervisedVAE, model_config
from ..data import Split, labeled_validation, load_dataset, resolve_device
from ..errors import SSVAEError
from ..measures.metrics import classification_metrics, elbo, iwae
from ..records import rundir as ck
from ..training.config import source_options
from ..training.state import evaluated_weights_of


def load_run(run_dir: str | Path, device: torch.device) -> tuple[dict[str, Any], SemiSupervisedVAE]:
    """A run directory's config.json and its network, built as it was trained."""
    run_dir = Path(run_dir)
    if not (run_dir / ck.CONFIG).exists():
        raise SSVAEError(f"{run_dir} is not a run directory (no {ck.CONFIG}); give the --out of `ssvae train`")
    meta = ck.read_json(run_dir / ck.CONFIG, ck.RUN_SHAPE)
    cfg, derived = meta["config"], meta["derived"]
    mcfg = model_config(cfg["model"], **meta["model_config"])
    features = meta.get("features")
    model = build_network(cfg["model"], derived["input_dim"], derived["num_classes"], mcfg, cfg["seed"], features)
    model = model.to(device)
    return meta, model


def checkpoint_metrics(model, test, val, seed: int, iw_samples: int, progress: bool | None) -> dict[str, Any]:
    """One checkpoint's numbers: test accuracy, entropy and I(y;x), validation accuracy (labeled validation only),
    and for generative models of the inputs the eq. 2 ELBO and, with `iw_samples`, the IWAE bound on the test images
    (a model behind a feature stage bounds the code, not the images: left out)."""
    t0 = time.perf_counter()
    metrics = classification_metrics(model, *test, seed=seed)
    v = classification_metrics(model, *val, seed=seed)["accuracy"] if labeled_validation(val[1]) else None
    r = {"test_accuracy": metrics["accuracy"], "test_entropy": metrics["entropy"], "test_mi": metrics["mi"]}
    r.update(val_accuracy=v, test_elbo=None, test_iwae=None)
    if not model.supervised_only and getattr(model, "bounds_inputs", True):
        r["test_elbo"] = float(elbo(model, test[0], seed=seed).mean())
        if iw_samples > 0:
            r["test_iwae"] = float(iwae(model, test[0], iw_samples, seed=seed, progress=progress).mean())
    r["eval_seconds"] = time.perf_counter() - t0
    return r


def evaluate_run(
    run_dir: str | Path,
    iw_samples: int = 0,
    device: str = "auto",
    data_dir: str | None = None,
    figures: bool = True,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Test metrics of a trained run's kept (best-by-validation) and last models, as `ssvae evaluate`.

    The test split is read here and nowhere during training. Writes `metrics.json` (and, with `figures`, the
    reconstruction, sample and t-SNE figures) into the run directory.

    Parameters
    ----------
    run_dir : str or Path
        The `out` of `train`.
    iw_samples : int
        Importance samples per class for the IWAE bound (0: skip it).
    device : str
        "auto", "cpu" or "cuda".
    data_dir : str, optional
        Where the data set is now, if it moved since training.
    figures : bool
        Also draw the run's figures.
    progress : bool, optional
        A progress bar (None: when stderr is a terminal).

    Returns
    -------
    dict
        `{"best": {...}, "last": {...}}`: accuracy, entropy, ELBO (and IWAE) of each, with its epoch.
    """
    run_dir = Path(run_dir)
    if iw_samples < 0:
        raise SSVAEError(f"--iw-samples must be 0 (skip the IWAE bound) or more, got {iw_samples}")
    dev = resolve_device(device)
    meta, model = load_run(run_dir, dev)
    cfg = meta["config"]
    for f in (ck.LAST, ck.BEST):
        if not (run_dir / f).exists():
            raise SSVAEError(f"{run_dir} has no {f}: train it first (`ssvae train ... --out {run_dir}`)")
    ds = load_dataset(cfg["dataset"], data_dir or cfg["data_dir"], **source_options(cfg))
    x_test = torch.from_numpy(ds.x_test).to(dev)
    y_test = torch.from_numpy(ds.y_test).to(dev)
    split = Split.load(run_dir / ck.SPLIT)
    x_val = torch.from_numpy(ds.x_train[split.validation]).to(dev)
    y_val = torch.from_numpy(ds.y_train[split.validation]).to(dev)
    last_state = ck.load_checkpoint(run_dir / ck.LAST, dev)

    results: dict[str, Any] = {
        "model": cfg["model"],
        "mier": cfg["mier"],
        "dataset": cfg["dataset"],
        "labels_per_class": cfg["labels_per_class"],
        "seed": cfg["seed"],
        "epochs": last_state["epoch"],
        "best_epoch": last_state["best_epoch"],
        "train_seconds": last_state["train_seconds"],
        "iw_samples": iw_samples,
    }
    for which, path in (("last", ck.LAST), ("best", ck.BEST)):
        state = ck.load_checkpoint(run_dir / path, dev)
        model.load_state_dict(evaluated_weights_of(model, state))  # with --ema, last.pt's average
        results[which] = {
            "epoch": state["epoch"],
            **checkpoint_metrics(model, (x_test, y_test), (x_val, y_val), cfg["seed"], iw_samples, progress),
        }
    ck.save_json(run_dir / ck.METRICS, results)

    if figures:
        from . import plots

        model.load_state_dict(ck.load_checkpoint(run_dir / ck.BEST, dev)["model"])
        label = f"{cfg['model']}{'+MIER' if cfg['mier'] else ''}, best epoch {results['best_epoch']}"
        shape, names = tuple(meta["derived"]["image_shape"]), meta["derived"].get("classes")
        plots.run_figures(model, x_test, y_test, shape, run_dir, seed=cfg["seed"], label=label, class_names=names)
    return results
