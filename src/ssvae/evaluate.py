"""Test-time numbers: accuracy, classifier entropy (Table 2), the eq. 2 bound and the IWAE bound.

This is the only module that reads the official test split, and only after training has finished.
Every estimate uses its own seeded generator, so evaluating twice gives the same numbers.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from . import checkpoint as ck
from .data import Split, load_dataset, resolve_device, to_unit
from .errors import SSVAEError
from .models import SemiSupervisedVAE, build_model, model_config
from .objectives import entropy, log_uniform_prior, mutual_information, unlabeled_bound_kl


def _chunks(n: int, size: int):
    for i in range(0, n, size):
        yield slice(i, min(i + size, n))


@torch.no_grad()
def predict_log_proba(model: SemiSupervisedVAE, x: Tensor, seed: int = 0, batch: int = 2000) -> Tensor:
    model.eval()
    gen = torch.Generator(device=x.device).manual_seed(seed)
    return torch.cat([model.predict_log_proba(to_unit(x[s]), gen) for s in _chunks(len(x), batch)])


def classification_metrics(model: SemiSupervisedVAE, x: Tensor, y: Tensor, seed: int = 0) -> dict[str, float]:
    """Accuracy in percent, mean H(q(y|x)) in nats, and I(y;x) over the whole set (eq. 8)."""
    log_q = predict_log_proba(model, x, seed)
    return {
        "accuracy": 100.0 * float((log_q.argmax(-1) == y).float().mean()),
        "entropy": float(entropy(log_q).mean()),
        "mi": float(mutual_information(log_q)),
    }


@torch.no_grad()
def elbo(model: SemiSupervisedVAE, x: Tensor, seed: int = 0, batch: int = 500) -> Tensor:
    """Per-example eq. 2 bound U(x) (no warm-up), one z sample per class: an unbiased estimate."""
    model.eval()
    gen = torch.Generator(device=x.device).manual_seed(seed)
    return torch.cat([unlabeled_bound_kl(model.bound(to_unit(x[s]), None, gen)) for s in _chunks(len(x), batch)])


@torch.no_grad()
def iwae(
    model: SemiSupervisedVAE, x: Tensor, samples: int, seed: int = 0, rows: int = 20000, progress: bool | None = None
) -> Tensor:
    """Per-example importance-weighted bound with `samples` draws per class, y summed exactly.

    log p(x) >= E log (1/S) sum_s sum_y p(y) w_sy, where w_sy = p(x, z_sy | y) / q(z_sy | x, y):
    tighter than eq. 2 and rising toward log p(x) as S grows.
    """
    model.eval()
    gen = torch.Generator(device=x.device).manual_seed(seed)
    k = model.num_classes
    log_py = log_uniform_prior(k)
    per_call = max(1, rows // (k * min(len(x), 500)))
    out = []
    chunks = list(_chunks(len(x), 500))
    for s in tqdm(chunks, desc=f"IWAE-{samples}", unit="chunk", disable=None if progress is None else not progress):
        xb = to_unit(x[s])
        acc = torch.full((len(xb),), -math.inf, device=x.device)
        done = 0
        while done < samples:
            m = min(per_call, samples - done)
            xr = xb.expand(m, *xb.shape).reshape(m * len(xb), -1)
            log_w = model.log_importance_weights(xr, gen).view(m, len(xb), k) + log_py
            acc = torch.logaddexp(acc, torch.logsumexp(log_w, dim=(0, 2)))
            done += m
        out.append(acc - math.log(samples))
    return torch.cat(out)


def load_run(run_dir: str | Path, device: torch.device) -> tuple[dict[str, Any], SemiSupervisedVAE]:
    run_dir = Path(run_dir)
    if not (run_dir / ck.CONFIG).exists():
        raise SSVAEError(f"{run_dir} is not a run directory (no {ck.CONFIG}); give the --out of `ssvae train`")
    meta = ck.load_json(run_dir / ck.CONFIG)
    cfg, derived = meta["config"], meta["derived"]
    mcfg = model_config(cfg["model"], **meta["model_config"])
    model = build_model(cfg["model"], derived["input_dim"], derived["num_classes"], mcfg, cfg["seed"]).to(device)
    return meta, model


def evaluate_run(
    run_dir: str | Path,
    iw_samples: int = 0,
    device: str = "auto",
    data_dir: str | None = None,
    figures: bool = True,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Test metrics for the best-by-validation and the last checkpoint; writes metrics.json and figures."""
    run_dir = Path(run_dir)
    if iw_samples < 0:
        raise SSVAEError(f"--iw-samples must be 0 (skip the IWAE bound) or more, got {iw_samples}")
    dev = resolve_device(device)
    meta, model = load_run(run_dir, dev)
    cfg = meta["config"]
    for f in (ck.LAST, ck.BEST):
        if not (run_dir / f).exists():
            raise SSVAEError(f"{run_dir} has no {f}: train it first (`ssvae train ... --out {run_dir}`)")
    ds = load_dataset(cfg["dataset"], data_dir or cfg["data_dir"])
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
        model.load_state_dict(state["model"])
        t0 = time.perf_counter()
        test = classification_metrics(model, x_test, y_test, seed=cfg["seed"])
        labeled_val = len(y_val) > 0 and bool((y_val >= 0).all())
        val = classification_metrics(model, x_val, y_val, seed=cfg["seed"]) if labeled_val else {"accuracy": None}
        r = {
            "epoch": state["epoch"],
            "test_accuracy": test["accuracy"],
            "test_entropy": test["entropy"],
            "test_mi": test["mi"],
            "val_accuracy": val["accuracy"],
            "test_elbo": None,
            "test_iwae": None,
        }
        if not model.supervised_only:
            r["test_elbo"] = float(elbo(model, x_test, seed=cfg["seed"]).mean())
            if iw_samples > 0:
                r["test_iwae"] = float(iwae(model, x_test, iw_samples, seed=cfg["seed"], progress=progress).mean())
        r["eval_seconds"] = time.perf_counter() - t0
        results[which] = r
    ck.save_json(run_dir / ck.METRICS, results)

    if figures:
        from . import plots

        model.load_state_dict(ck.load_checkpoint(run_dir / ck.BEST, dev)["model"])
        label = f"{cfg['model']}{'+MIER' if cfg['mier'] else ''}, best epoch {results['best_epoch']}"
        plots.run_figures(
            model, x_test, y_test, tuple(meta["derived"]["image_shape"]), run_dir, seed=cfg["seed"], label=label
        )
    return results
