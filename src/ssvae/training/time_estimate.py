"""How long a fit will take, said before it starts (issue 31, item 4): each stage's step timed on this machine.

A few steps of throwaway networks of the run's shapes, on random inputs and their own generator (the run's
state and noise are untouched), give seconds per step; times steps per epoch and epochs, the expected time of
each stage. A fit that will take an hour then says so in its first line instead of after an hour of silence.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable

import torch

from ..core.features import build_network, build_stage, featurized, stage_spec
from ..core.interface import enumerated_count
from ..core.models import model_config
from ..core.objectives import ObjectiveConfig, loss_function
from ..data import resolve_device
from ..machine.hardware import PRECISIONS, adam, resolve_precision
from .auto import too_few_steps
from .config import TrainConfig
from .schedule import make_schedule, steps_per_epoch
from .watch import duration

PROBE_STEPS = 3  # timed after one untimed step (allocations, first-call costs)


@dataclass
class StagePlan:
    name: str  # "stage 1 (m1)" or the model's label
    epochs: int
    steps_per_epoch: int
    seconds_per_step: float

    @property
    def seconds(self) -> float:
        return self.epochs * self.steps_per_epoch * self.seconds_per_step


def timed_steps(step: Callable[[], None]) -> float:
    """Seconds per call of `step`, after one call to warm up."""
    step()
    t0 = time.perf_counter()
    for _ in range(PROBE_STEPS):
        step()
    return (time.perf_counter() - t0) / PROBE_STEPS


def stage_step(
    features: str, input_dim: int, batch: int, lr: float, precision: str, device: torch.device, gen: torch.Generator
) -> Callable[[], None]:
    """One training step of a fresh feature stage on a fixed batch of random binary inputs (timing only)."""
    stage = build_stage(features, input_dim, "bernoulli", 0).to(device)
    opt = adam(stage.parameters(), lr)
    x = torch.rand(batch, input_dim, generator=gen, device=device).round()

    def step() -> None:
        with PRECISIONS[precision](device):
            log_px, kl = stage.elbo_terms(x, gen)
        opt.zero_grad(set_to_none=True)
        (kl - log_px).mean().backward()
        opt.step()

    return step


def model_step(
    net: torch.nn.Module,
    input_dim: int,
    obj: ObjectiveConfig,
    batches: tuple[int, int],
    lr: float,
    precision: str,
    device: torch.device,
    gen: torch.Generator,
) -> Callable[[], None]:
    """One training step of `net` through the objective on fixed random batches (labeled, unlabeled) (timing only)."""
    net = net.to(device)
    opt = adam(net.parameters(), lr)
    loss_fn, (bl, bu) = loss_function(net), batches
    xl = torch.rand(bl, input_dim, generator=gen, device=device).round()
    xu = torch.rand(bu, input_dim, generator=gen, device=device).round()
    yl = torch.randint(0, net.num_classes, (bl,), generator=gen, device=device)

    def step() -> None:
        with PRECISIONS[precision](device):
            loss, _ = loss_fn(net, xl, yl, xu, gen, obj, 1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def plan(cfg: TrainConfig, input_dim: int, num_classes: int, n_labeled: int, n_unlabeled: int) -> list[StagePlan]:
    """The stages a fit of `cfg` trains, on its device and in the precision its run will resolve, each with its
    timed step."""
    device = resolve_device(cfg.device)
    precision = resolve_precision(cfg.precision, device) if cfg.precision == "auto" else cfg.precision
    gen = torch.Generator(device=device).manual_seed(0)
    stages, spec = [], None
    if featurized(cfg.features):
        batch = min(cfg.batch_size, n_labeled + n_unlabeled)
        step = stage_step(cfg.features, input_dim, batch, cfg.lr, precision, device, gen)
        steps = steps_per_epoch(n_labeled + n_unlabeled, cfg.batch_size)
        stages.append(StagePlan(f"stage 1 ({cfg.features})", cfg.feature_epochs, steps, timed_steps(step)))
        spec = stage_spec(cfg.features, cfg.feature_code, "bernoulli")
    sched = make_schedule(cfg, n_unlabeled, n_labeled)
    net = build_network(cfg.model, input_dim, num_classes, model_config(cfg.model, **cfg.model_options), 0, spec)
    obj = ObjectiveConfig.of(cfg, sched.weights)
    step = model_step(net, input_dim, obj, (sched.labeled_batch, sched.unlabeled_batch), cfg.lr, precision, device, gen)
    stages.append(StagePlan(cfg.model, cfg.epochs, sched.steps_per_epoch, timed_steps(step)))
    return stages


def announce(cfg: TrainConfig, dim: int, k: int, n_labeled: int, n_unlabeled: int, warm: bool) -> None:
    """One line before a verbose fit: what it will train, and how long that should take here (each stage's step
    timed on this machine, `ssvae.training.time_estimate`), so that a long fit says so at once."""
    stages = plan(cfg, dim, k, n_labeled, n_unlabeled)
    if warm:  # a warm start keeps its stage 1
        stages = stages[-1:]
    what = ", then ".join(f"{s.name} for {s.epochs} epochs of {s.steps_per_epoch} steps" for s in stages)
    if enumerated_count(k, cfg.enumerate_top) < k:
        what += f" (its unlabeled rows' bound over their top {cfg.enumerate_top} of {k} classes)"
    total = sum(s.seconds for s in stages)
    short = too_few_steps(stages[-1].epochs, stages[-1].steps_per_epoch)
    few = ""
    if short is not None:
        few = f" ({short[0]} steps: fewer than the {short[1]} the rule gives these rows, epochs='auto')"
    print(
        f"ssvae: fitting {what}{few}, on {n_labeled} labeled and {n_unlabeled} unlabeled rows: about "
        f"{duration(total)} on this machine",
        file=sys.stderr,
        flush=True,
    )
