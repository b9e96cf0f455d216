"""Stage 1 of a featurized run: the feature stage (`ssvae.core.features`) trained without labels on every
training input, labeled and unlabeled (never the validation or test split), before the model trains on its code.

A stage lives in a folder (`STAGE_FILES`): its key (everything that decides its weights), its ELBO per epoch, a
resume point per epoch, and its final weights, written last. The folder is the run directory's `features/`, or,
with `features_dir` (sweeps and reproduce set OUT/features), a shared one named by the key's digest, trained once
by whichever run needs it first and copied into every run directory that uses it, so that each run directory
holds both stages. Training is under an OS lock (a second process waits), resumes exactly after kill -9, and
every file goes through `ssvae.files` (atomic). It is trained by the same loop, watch and time budget as stage 2
(`ssvae.training.loop.run_epochs`): `StageRun` is what that loop drives, saying only how stage 1 computes its loss.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.features import build_stage
from ..data import Dataset, Split
from ..data.device import to_unit
from ..data.preprocess import in_unit_range
from ..errors import SSVAEError
from ..files import (
    append_history,
    load_checkpoint,
    read_history,
    read_json,
    replace_atomically,
    save_checkpoint,
    save_json,
    write_history,
)
from ..machine.hardware import PRECISIONS, adam, tensor_lr
from ..records import rundir as rd
from .config import TrainConfig
from .schedule import epoch_indices, steps_per_epoch
from .state import Diverged
from .watch import StageDisplay, Watch

KEY, HISTORY, LAST, FINAL = rd.CONFIG, rd.HISTORY, rd.LAST, "stage.pt"
STAGE_FILES = (KEY, HISTORY, FINAL)  # what a finished stage folder holds (and what is copied from a shared one)
KEY_SHAPE = {"features": str, "likelihood": str, "seed": int}  # what of a stage's key builds its network


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
    """A short hash of a stage's key: the name of a shared stage's folder."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


def finished(folder: Path | None, key: dict[str, Any]) -> bool:
    """A stage folder holding a finished stage with this key; one holding another stage is refused."""
    if folder is None or not (folder / KEY).is_file():
        return False
    recorded = read_json(folder / KEY, KEY_SHAPE, f"delete {folder} and rerun the same command: it trains again")
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


@dataclass
class StagePlace:
    """Where a run's stage 1 lives: the run directory's `features/` (`own`), a shared folder named by the key's
    digest (`shared`, trained once by whichever run needs it first), or memory (the estimator: neither)."""

    cfg: TrainConfig
    ds: Dataset
    key: dict[str, Any]
    own: Path | None
    shared: Path | None

    @classmethod
    def of(cls, cfg: TrainConfig, ds: Dataset, split: Split, run_dir: Path | None) -> "StagePlace":
        key = stage_key(cfg, ds, split)
        own = None if run_dir is None else run_dir / rd.FEATURE_STAGE
        shared = None if cfg.features_dir is None else Path(cfg.features_dir) / f"{cfg.features}-{digest(key)}"
        return cls(cfg, ds, key, own, shared)

    @property
    def where(self) -> Path | None:
        """The folder stage 1 trains in."""
        return self.shared or self.own

    def ready(self) -> bool:
        return finished(self.own, self.key) or finished(self.where, self.key)

    def lock(self) -> contextlib.AbstractContextManager:
        """Held while the stage trains: another run training the same shared stage is waited for, then reused."""
        if self.where is None:
            return contextlib.nullcontext()
        self.where.mkdir(parents=True, exist_ok=True)
        return rd.RunLock(self.where, wait=True)

    def load(self, device: torch.device) -> nn.Module:
        """The finished stage, in eval mode on `device`; a shared one is copied into the run directory once it has
        loaded (never a damaged stage)."""
        source = self.own if finished(self.own, self.key) else self.where
        stage = load_stage(self.cfg, self.ds, self.key, source, shared=source is self.shared)
        if self.own is not None and source is not self.own:
            copy_stage(source, self.own)
        return stage.to(device).eval()


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
    key = read_json(folder / KEY, KEY_SHAPE, f"delete {folder}: the next run that needs it trains it again")
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


class StageRun:
    """Stage 1 as the training loop (`ssvae.training.loop.run_epochs`) sees a run, as `Run` is stage 2: its
    network, Adam at the run's lr and noise from its own seeded generator; an epoch is one pass over every training
    input in batches of `batch_size`, ending in a row of its ELBO, logged and checkpointed in `out` (none in
    memory). All it says of the math is its loss: the negative ELBO (`StageStep`)."""

    def __init__(self, cfg: TrainConfig, key: dict[str, Any], x: torch.Tensor, out: Path | None):
        self.cfg, self.key, self.x, self.out, self.device = cfg, key, x, out, x.device
        self.model = build_stage(cfg.features, x.shape[1], key["likelihood"], cfg.seed).to(x.device)
        self.opt = adam(self.model.parameters(), cfg.lr, cfg.adam_betas)
        self.gen = torch.Generator(device=x.device)
        self.gen.manual_seed(cfg.seed)
        self.label = self.display_name = f"stage 1 ({cfg.features})"
        self.epochs, self.batch = cfg.feature_epochs, min(cfg.batch_size, len(x))
        self.steps_per_epoch = steps_per_epoch(len(x), self.batch)
        self.autocast = functools.partial(PRECISIONS[cfg.precision], x.device)
        self.sums = torch.zeros(2, device=x.device)  # log p(x|z) and KL, summed over this epoch's steps
        self.epoch, self.seconds = self.resume() if out is not None else (0, 0.0)
        self.saved_epoch = self.epoch
        self.display = StageDisplay()

    def resume(self) -> tuple[int, float]:
        """The epoch the folder's resume point reached (0 without one) and the seconds trained until then, its
        state loaded; the folder's key and history rewritten to match (rows after the resume point dropped)."""
        start = 0
        if (self.out / LAST).is_file():
            state = load_checkpoint(self.out / LAST, self.device)
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["optimizer"])
            tensor_lr(self.opt)
            self.gen.set_state(state["rng"].cpu())
            start = state["epoch"]
        history = [r for r in read_history(self.out / HISTORY) if r["epoch"] <= start]
        save_json(self.out / KEY, self.key)
        write_history(self.out / HISTORY, history)
        return start, sum(r["seconds"] for r in history)

    def epoch_indices(self) -> tuple[torch.Tensor]:
        return (epoch_indices(len(self.x), self.steps_per_epoch, self.batch, self.gen, self.device),)

    @property
    def members(self) -> list["StageRun"]:
        """What the loop reports of this stage (`contracts.Stage`): the stage itself."""
        return [self]

    def train_mode(self) -> None:
        self.model.train()

    def make_step(self) -> "StageStep":
        return StageStep(self)

    def end_epoch(self, seconds: float) -> list[dict[str, Any]]:
        """Every epoch is evaluated: its mean ELBO, logged and checkpointed; `Diverged` when it is not finite."""
        log_px, kl = (self.sums / self.steps_per_epoch).tolist()
        self.sums.zero_()
        if not math.isfinite(log_px - kl):
            kept = f"{self.out / LAST} keeps epoch {self.epoch}" if self.out is not None and self.epoch else None
            raise Diverged(
                f"{self.label} diverged: its ELBO stopped being finite in epoch {self.epoch + 1}; "
                f"{kept or 'nothing was kept'}; the usual cause is too large a learning rate (lr {self.cfg.lr:g}): "
                "train again with a smaller one"
            )
        self.epoch, self.seconds = self.epoch + 1, self.seconds + seconds
        row = {"epoch": self.epoch, "elbo": log_px - kl, "log_px": log_px, "kl": kl, "seconds": seconds}
        if self.out is not None:
            append_history(self.out / HISTORY, row)
            self.save_last()
        return [row]

    def save_last(self) -> None:
        state = {"model": self.model.state_dict(), "optimizer": self.opt.state_dict(), "rng": self.gen.get_state()}
        save_checkpoint(self.out / LAST, {**state, "epoch": self.epoch})
        self.saved_epoch = self.epoch

    def finish(self) -> nn.Module:
        """The final weights, written last (what makes the folder a finished stage); the resume point goes."""
        if self.out is not None:
            save_checkpoint(self.out / FINAL, {"model": self.model.state_dict(), "epoch": self.epochs})
            (self.out / LAST).unlink(missing_ok=True)
        return self.model.eval()

    def event_dir(self, watch: Watch) -> Path | None:
        """Beside stage 2's events: `stage1/` in the run's event folder."""
        folder = watch.event_dir(None if self.out is None else self.out.parent)
        return None if folder is None else folder / "stage1"

    def postfix(self, rows: list[dict[str, Any]]) -> dict[str, str]:
        return self.display.postfix(rows[0])


class StageStep:
    """One step of stage 1: the negative ELBO of a batch of inputs (eq. 2 without y), its gradient, Adam."""

    def __init__(self, stage: StageRun):
        self.stage, self.order, self.i = stage, None, 0

    def begin_epoch(self, order: torch.Tensor) -> None:
        self.order, self.i = order, 0

    def __call__(self) -> None:
        s = self.stage
        with s.autocast():
            log_px, kl = s.model.elbo_terms(to_unit(s.x[self.order[self.i]]), s.gen)
        loss = (kl - log_px).mean()
        s.opt.zero_grad(set_to_none=True)
        loss.backward()
        s.opt.step()
        s.sums += torch.stack([log_px.mean(), kl.mean()]).detach()
        self.i += 1
