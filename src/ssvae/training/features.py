"""Stage 1 of a featurized run: the feature stage (`ssvae.core.features`) trained without labels on every
training input, labeled and unlabeled (never the validation or test split), before the model trains on its code.

A stage lives in a folder (`STAGE_FILES`): its key (everything that decides its weights), its ELBO per epoch, a
resume point per epoch, and its final weights, written last. The folder is the run directory's `features/`, or,
with `features_dir` (sweeps and reproduce set OUT/features), a shared one named by the key's digest, trained once
by whichever run needs it first and copied into every run directory that uses it, so that each run directory
holds both stages. Training is under an OS lock (a second process waits), resumes exactly after kill -9, and
every file goes through `ssvae.files` (atomic).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..core.features import build_stage
from ..data import Dataset, DeviceData, Split
from ..data.device import to_unit
from ..data.preprocess import in_unit_range
from ..errors import SSVAEError
from ..files import (
    append_history,
    load_checkpoint,
    load_json,
    read_history,
    replace_atomically,
    save_checkpoint,
    save_json,
    write_history,
)
from . import rundir as rd
from .budget import StoppedInStage1, TimeBudget
from .config import TrainConfig
from .hardware import PRECISIONS, adam, tensor_lr
from .schedule import epoch_indices, steps_per_epoch
from .state import Diverged
from .watch import QUIET, Watch, duration

KEY, HISTORY, LAST, FINAL = rd.CONFIG, rd.HISTORY, rd.LAST, "stage.pt"
STAGE_FILES = (KEY, HISTORY, FINAL)  # what a finished stage folder holds (and what is copied from a shared one)


def stage_likelihood(cfg: TrainConfig, ds: Dataset) -> str:
    """The stage models the inputs: with the model's own `likelihood` option when it has one set, else Bernoulli
    for [0, 1] intensities and Gaussian for anything else (the estimator's standardised tables)."""
    given = cfg.model_options.get("likelihood")
    return given or ("bernoulli" if in_unit_range(ds.x_train[:1000]) else "gaussian")


def stage_key(cfg: TrainConfig, ds: Dataset, split: Split) -> dict[str, Any]:
    """Everything that decides the stage's weights: the same key, the same stage (shared across models, MIER,
    objective settings and label counts that leave the inputs unchanged)."""
    inputs = np.sort(np.concatenate([split.labeled, split.unlabeled]))
    return {
        "features": cfg.features,
        "feature_epochs": cfg.feature_epochs,
        "likelihood": stage_likelihood(cfg, ds),
        "dataset": Path(ds.name).stem,
        "data_sha256": hashlib.sha256(np.ascontiguousarray(ds.x_train).data).hexdigest()[:16],
        "inputs_sha256": hashlib.sha256(inputs.astype(np.int64).data).hexdigest()[:16],
        "n_inputs": len(inputs),
        "seed": cfg.seed,
        "lr": cfg.lr,
        "adam_betas": list(cfg.adam_betas),
        "batch_size": cfg.batch_size,
        "precision": cfg.precision,
    }


def digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


def finished(folder: Path | None, key: dict[str, Any]) -> bool:
    """A stage folder holding a finished stage with this key; one holding another stage is refused."""
    if folder is None or not (folder / KEY).is_file():
        return False
    recorded = load_json(folder / KEY)
    if recorded != key:
        what = ", ".join(f"{k}: {recorded.get(k)!r} -> {key.get(k)!r}" for k in key if recorded.get(k) != key.get(k))
        raise SSVAEError(f"{folder} holds a feature stage trained otherwise ({what}); use a new --out or --restart")
    return (folder / FINAL).is_file()


def copy_stage(src: Path, dst: Path) -> None:
    """A shared stage's files into a run directory's `features/`, each atomically, the weights last."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in STAGE_FILES:
        data = (src / name).read_bytes()
        replace_atomically(dst / name, lambda f, data=data: f.write(data))


def trained_stage(
    cfg: TrainConfig,
    ds: Dataset,
    split: Split,
    data: DeviceData,
    run_dir: Path | None,
    watch: Watch = QUIET,
    budget: TimeBudget | None = None,
) -> nn.Module:
    """The run's stage 1, trained (or resumed) where it belongs unless it is already there, in eval mode. A
    `budget` that runs out first raises `StoppedInStage1` (the stage checkpointed: the same command continues)."""
    key = stage_key(cfg, ds, split)
    own = None if run_dir is None else run_dir / rd.FEATURE_STAGE
    shared = None if cfg.features_dir is None else Path(cfg.features_dir) / f"{cfg.features}-{digest(key)}"
    where = shared or own
    own_done = finished(own, key)
    if not own_done and not finished(where, key):
        x = torch.cat([data.x_lab, data.x_unl])
        if where is None:  # in memory (the estimator)
            return train_stage(cfg, key, x, None, watch)
        where.mkdir(parents=True, exist_ok=True)
        with rd.RunLock(where, wait=True):  # another run training this shared stage: wait, then reuse it
            if not finished(where, key):
                train_stage(cfg, key, x, where, watch, budget)
    source = own if own_done else where
    stage = load_stage(cfg, ds, key, source, shared=source is shared)
    if own is not None and source is not own:  # copied only once it has loaded: never a damaged stage
        copy_stage(source, own)
    return stage.to(data.x_unl.device).eval()


def load_stage(cfg: TrainConfig, ds: Dataset, key: dict[str, Any], folder: Path, shared: bool) -> nn.Module:
    """A finished stage's network from its folder; damage is named where it lives, with advice that works: a
    shared stage is trained again once its folder is deleted (--restart clears only the run directory)."""
    fix = f"delete {folder} and rerun the same command: the stage is trained again" if shared else None
    stage = build_stage(cfg.features, ds.dim, key["likelihood"], cfg.seed)
    try:
        stage.load_state_dict(load_checkpoint(folder / FINAL, fix=fix)["model"])
    except RuntimeError as e:  # a checkpoint of other shapes
        hint = fix or f"rerun `ssvae train` with the same flags and --restart to train {folder.parent} again"
        raise SSVAEError(f"{folder / FINAL} does not fit this stage ({str(e).splitlines()[0][:120]}); {hint}") from e
    return stage


def stage_encoder(folder: Path):
    """A finished stage folder's q(z|x) mean as a function of [0, 1] inputs (`code_function`, on the CPU): the
    code the scikit-learn baselines are fit on (`ssvae.evaluation.baselines.CODE_BASELINES`)."""
    key = load_json(folder / KEY)
    state = load_checkpoint(folder / FINAL)["model"]
    input_dim = state["enc.0.weight"].shape[1]
    stage = build_stage(key["features"], input_dim, key["likelihood"], key["seed"])
    stage.load_state_dict(state)
    return code_function(stage)


def code_function(stage: nn.Module, batch: int = 2000):
    """A stage's q(z|x) mean as a function of numpy [0, 1] inputs, numpy out, computed where the stage lives (a
    trained stage, or the frozen one inside a fitted `Featurized`)."""
    stage.eval()
    device = next(iter(stage.state_dict().values())).device  # a frozen stage holds buffers, not parameters

    @torch.no_grad()
    def encode(x: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)
        return torch.cat([stage.encode(t[i : i + batch])[0].cpu() for i in range(0, len(t), batch)]).numpy()

    return encode


class StageReporter:
    """How stage 1 reports, as the run's `Reporter` does for stage 2: a tqdm bar on a terminal, a line per epoch
    with its ETA otherwise, and its ELBO as TensorBoard events under the run's event folder (`stage1/`)."""

    def __init__(self, cfg: TrainConfig, watch: Watch, where: Path | None, start: int):
        self.name, self.epochs, self.start = f"stage 1 ({cfg.features})", cfg.feature_epochs, start
        self.lines, self.began = watch.shows_lines(), time.perf_counter()
        self.bar = tqdm(
            total=self.epochs,
            initial=start,
            desc=self.name,
            unit="epoch",
            disable=not watch.shows_bar(),
            dynamic_ncols=True,
        )
        self.writer = None
        if watch.tensorboard is not None:
            from torch.utils.tensorboard import SummaryWriter

            run_dir = None if where is None else where.parent
            self.writer = SummaryWriter(log_dir=str(watch.event_dir(run_dir) / "stage1"))

    def epoch(self, row: dict[str, Any]) -> None:
        self.bar.update(1)
        self.bar.set_postfix(elbo=f"{row['elbo']:.2f}")
        if self.lines:
            per_epoch = (time.perf_counter() - self.began) / (row["epoch"] - self.start)
            eta = duration(per_epoch * (self.epochs - row["epoch"]))
            print(
                f"ssvae: {self.name} epoch {row['epoch']}/{self.epochs}: ELBO {row['elbo']:.2f}, "
                f"{row['seconds']:.1f} s/epoch, ETA {eta}",
                flush=True,
                file=sys.stderr,
            )
        if self.writer is not None:
            for k in ("elbo", "log_px", "kl"):
                self.writer.add_scalar(f"stage1/{k}", row[k], row["epoch"])
            self.writer.flush()

    def close(self) -> None:
        self.bar.close()
        if self.writer is not None:
            self.writer.close()


def train_stage(
    cfg: TrainConfig,
    key: dict[str, Any],
    x: torch.Tensor,
    where: Path | None,
    watch: Watch,
    budget: TimeBudget | None = None,
) -> nn.Module:
    """Maximise the stage's ELBO over `x` (the training inputs on the device) for `feature_epochs` epochs of
    `batch_size`, Adam at the run's lr, its noise and batch order from its own seeded generator."""
    device = x.device
    stage = build_stage(cfg.features, x.shape[1], key["likelihood"], cfg.seed).to(device)
    opt = adam(stage.parameters(), cfg.lr, cfg.adam_betas)
    gen = torch.Generator(device=device)
    gen.manual_seed(cfg.seed)
    start = 0 if where is None else resume_stage(where, key, stage, opt, gen)
    reporter = StageReporter(cfg, watch, where, start)
    stage.train()
    try:
        for epoch in range(start, cfg.feature_epochs):
            if budget is not None and not budget.allows_stage_epoch():
                raise StoppedInStage1(f"{where}: stage 1 stopped for time at epoch {epoch} of {cfg.feature_epochs}")
            row = stage_epoch(cfg, stage, opt, gen, x, epoch, where)
            if budget is not None:
                budget.timed(row["seconds"])
            reporter.epoch(row)
            if where is not None:
                append_history(where / HISTORY, row)
                state = {"model": stage.state_dict(), "optimizer": opt.state_dict(), "rng": gen.get_state()}
                save_checkpoint(where / LAST, {**state, "epoch": epoch + 1})
    finally:
        reporter.close()
    if where is not None:
        save_checkpoint(where / FINAL, {"model": stage.state_dict(), "epoch": cfg.feature_epochs})
        (where / LAST).unlink(missing_ok=True)
    return stage.eval()


def resume_stage(where: Path, key: dict[str, Any], stage: nn.Module, opt, gen: torch.Generator) -> int:
    """The epoch a stage folder's resume point reached (0 without one), its state loaded; the folder's key and
    history rewritten to match (rows after the resume point dropped)."""
    start = 0
    if (where / LAST).is_file():
        state = load_checkpoint(where / LAST, gen.device)
        stage.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        tensor_lr(opt)
        gen.set_state(state["rng"].cpu())
        start = state["epoch"]
    history = [r for r in read_history(where / HISTORY) if r["epoch"] <= start]
    save_json(where / KEY, key)
    write_history(where / HISTORY, history)
    return start


def stage_epoch(cfg: TrainConfig, stage: nn.Module, opt, gen, x: torch.Tensor, epoch: int, where: Path | None) -> dict:
    """One pass over `x` in batches of `batch_size`; the epoch's row, or `Diverged` when its ELBO is not finite."""
    autocast = functools.partial(PRECISIONS[cfg.precision], x.device)
    batch = min(cfg.batch_size, len(x))
    steps = steps_per_epoch(len(x), batch)
    t0 = time.perf_counter()
    order = epoch_indices(len(x), steps, batch, gen, x.device)
    sums = torch.zeros(2, device=x.device)
    for i in range(steps):
        with autocast():
            log_px, kl = stage.elbo_terms(to_unit(x[order[i]]), gen)
        loss = (kl - log_px).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sums += torch.stack([log_px.mean(), kl.mean()]).detach()
    log_px, kl = (sums / steps).tolist()
    if not math.isfinite(log_px - kl):
        kept = f"{where / LAST} keeps epoch {epoch}" if where is not None and epoch else "nothing was kept"
        raise Diverged(
            f"stage 1 ({cfg.features}) diverged: its ELBO stopped being finite in epoch {epoch + 1}; {kept}; the "
            f"usual cause is too large a learning rate (lr {cfg.lr:g}): train again with a smaller one"
        )
    return {"epoch": epoch + 1, "elbo": log_px - kl, "log_px": log_px, "kl": kl, "seconds": time.perf_counter() - t0}
