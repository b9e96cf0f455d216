"""What a checkpoint holds, listed once: the training state that `Run` saves and restores to resume exactly."""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

from ..errors import SSVAEError, warn
from ..machine.hardware import tensor_lr
from .averaging import WeightAverage

# checkpoint key -> TrainingState attribute, for the counters and sums (the modules and the RNG are below)
COUNTERS = {
    "epoch": "epoch",
    "step": "step",
    "best_score": "best_score",
    "best_epoch": "best_epoch",
    "train_seconds": "seconds",
    "sums": "sums",
    "steps_in_sums": "steps_in_sums",
}
# a sum kept beside the statistics, never logged: how many steps since the last evaluation had a non-finite loss
NONFINITE = "nonfinite_steps"
# the checkpoint key of the weights' moving average (`--ema`), present only in the checkpoints of runs that keep one
AVERAGED = "averaged"
# keys that older checkpoints lacked or named otherwise -> how to read them there
OLDER = {"best_score": lambda s: s.get("best_val_accuracy"), "sums": lambda s: {}, "steps_in_sums": lambda s: 0}


def evaluated_weights_of(model: torch.nn.Module, state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The weights a checkpoint's run evaluates (`state`: a last.pt): its model's, with `--ema` the parameters
    replaced by their moving average (kept in the order of `model.parameters()`)."""
    weights = dict(state["model"])
    if AVERAGED in state:
        names = [name for name, _ in model.named_parameters()]
        weights.update(zip(names, state[AVERAGED]))
    return weights


def warm_state(model: dict[str, torch.Tensor], optimizer: dict[str, Any] | None, step: int) -> dict[str, Any]:
    """The warm-start format, declared once: the weights to continue from, the optimizer's state (None: a fresh
    optimizer, as after loading a saved model) and the steps taken (the KL warm-up goes on from there)."""
    return {"model": model, "step": step, **({} if optimizer is None else {"optimizer": optimizer})}


class Diverged(SSVAEError):
    """The loss or the network's outputs stopped being finite: the run stops, its last good checkpoint kept."""


class TrainingState:
    """A run's model, optimizer, lr schedule and noise generator, and its counters: everything the next epoch
    needs, and the step statistics not yet logged."""

    def __init__(self, model: torch.nn.Module, opt, lr_sched, gen: torch.Generator, seed: int, ema: float = 0.0):
        self.model, self.opt, self.lr_sched, self.gen, self.seed = model, opt, lr_sched, gen, seed
        self.average = WeightAverage(model, ema) if ema else None
        self.epoch, self.step, self.best_score, self.best_epoch, self.seconds = 0, 0, -math.inf, 0, 0.0
        self.sums: dict[str, torch.Tensor] = {}
        self.steps_in_sums = 0

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.lr_sched.state_dict(),
            "rng": self.gen.get_state(),
            **{key: getattr(self, attr) for key, attr in COUNTERS.items()},
            **({AVERAGED: self.average.state_dict()} if self.average is not None else {}),
        }

    def load_state_dict(self, state: dict[str, Any], where: str = "the checkpoint") -> None:
        try:
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["optimizer"])
            tensor_lr(self.opt)
            self.lr_sched.load_state_dict(state["scheduler"])
            self._load_rng(state, where)
            if self.average is not None:
                self.average.load_state_dict(state[AVERAGED])
            for key, attr in COUNTERS.items():
                setattr(self, attr, state[key] if key in state else OLDER[key](state))
        except (KeyError, RuntimeError, ValueError, TypeError) as e:
            raise SSVAEError(
                f"{where} does not fit this run ({type(e).__name__}: {str(e)[:100]}); "
                "rerun with --restart to train it again"
            ) from e

    def _load_rng(self, state: dict[str, Any], where: str) -> None:
        try:
            self.gen.set_state(state["rng"].cpu())
        except RuntimeError:  # saved by another kind of device (a CUDA and a CPU state differ in kind)
            self.gen.manual_seed(self.seed * 1_000_003 + state["step"])
            warn(
                f"{where} was checkpointed on another kind of device: it resumes on {self.gen.device.type} with a "
                "fresh noise stream, so it will not be bit-identical to an uninterrupted run"
            )

    def warm_state(self) -> dict[str, Any]:
        """What a later warm start continues from (`warm_start`): a copy of the weights now, the optimizer, the step."""
        return warm_state(
            {k: v.detach().clone() for k, v in self.model.state_dict().items()}, self.opt.state_dict(), self.step
        )

    def warm_start(self, init: dict[str, Any]) -> None:
        """The model and optimizer of an earlier fit (the estimator's warm_start, `warm_state`), and a new schedule
        of epochs."""
        self.model.load_state_dict(init["model"])
        if "optimizer" in init:
            self.opt.load_state_dict(init["optimizer"])
            tensor_lr(self.opt)
        self.step = init["step"]
        if self.average is not None:
            self.average.restart()

    def record(self, stats: dict[str, torch.Tensor]) -> None:
        """One step's statistics summed on the device, and the host's step counter moved."""
        self.add_stats(stats)
        self.count_step()

    def add_stats(self, stats: dict[str, torch.Tensor]) -> None:
        """Sum step statistics on the device, in place; read back only at evaluation (no per-step host sync). The
        sums stay the same tensors from the first step on, so a captured step keeps adding to them. Beside them,
        the count of steps whose loss was not finite (`NONFINITE`), so that a diverged run can say where."""
        stats = {**stats, NONFINITE: (~torch.isfinite(stats["loss"].detach())).float()}
        for k, v in stats.items():
            if k in self.sums:
                self.sums[k].add_(v.detach())
            else:
                self.sums[k] = v.detach().clone()

    def count_step(self) -> None:
        self.steps_in_sums += 1
        self.step += 1

    def check_finite(
        self, values: list[float], sums: list[float], steps_per_epoch: int, advice: Callable[[], str]
    ) -> None:
        """Stop a run whose loss or validation numbers stopped being finite (`values`: everything an evaluation
        read back; `sums`: the statistics' sums among them), before anything of it is logged or checkpointed, so
        that the last good checkpoint stays the resume point. A NaN weight makes every later step NaN, so the first
        bad step is the last `NONFINITE` steps' first."""
        if all(math.isfinite(v) for v in values):
            return
        bad = int(dict(zip(self.sums, sums)).get(NONFINITE, 0))
        first = self.step - bad + 1 if bad else self.step
        epoch, i = divmod(first - 1, steps_per_epoch)
        raise Diverged(
            f"training diverged: the loss stopped being finite at step {i + 1} of epoch {epoch + 1}; {advice()}"
        )

    def mean_stats(self, sums: list[float] | None = None) -> dict[str, float]:
        """The step statistics' means since the last evaluation, and a fresh start for the next (zeroed in place:
        0 + v is v, so the next sums are what fresh ones would be). `sums`: their values, already read back."""
        sums = [float(v) for v in self.sums.values()] if sums is None else sums
        means = {k: v / self.steps_in_sums for k, v in zip(self.sums, sums) if k != NONFINITE}
        for v in self.sums.values():
            v.zero_()
        self.steps_in_sums = 0
        return means
