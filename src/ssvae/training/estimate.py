"""How long a fit will take, said before it starts (issue 31, item 4): each stage's step timed on this machine.

A few steps of throwaway networks of the run's shapes, on random inputs and their own generator (the run's
state and noise are untouched), give seconds per step; times steps per epoch and epochs, the expected time of
each stage. A fit that will take an hour then says so in its first line instead of after an hour of silence.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from ..core.features import build_network, build_stage, featurized, stage_spec
from ..core.models import model_config
from ..core.objectives import ObjectiveConfig, loss_function
from .config import TrainConfig
from .hardware import PRECISIONS, adam
from .schedule import make_schedule

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


def timed_steps(step) -> float:
    step()
    t0 = time.perf_counter()
    for _ in range(PROBE_STEPS):
        step()
    return (time.perf_counter() - t0) / PROBE_STEPS


def plan(cfg: TrainConfig, input_dim: int, num_classes: int, n_labeled: int, n_unlabeled: int) -> list[StagePlan]:
    """The stages a fit of `cfg` trains (CPU or GPU, as cfg.device says), each with its timed step."""
    device = torch.device("cuda" if cfg.device in ("cuda", "auto") and torch.cuda.is_available() else "cpu")
    autocast = PRECISIONS[cfg.precision if cfg.precision in PRECISIONS else "fp32"]
    gen = torch.Generator(device=device).manual_seed(0)
    stages = []
    spec = None
    if featurized(cfg.features):
        stage = build_stage(cfg.features, input_dim, "bernoulli", 0).to(device)
        opt = adam(stage.parameters(), cfg.lr)
        batch = min(cfg.batch_size, n_labeled + n_unlabeled)
        x = torch.rand(batch, input_dim, generator=gen, device=device).round()

        def stage_step():
            with autocast(device):
                log_px, kl = stage.elbo_terms(x, gen)
            opt.zero_grad(set_to_none=True)
            (kl - log_px).mean().backward()
            opt.step()

        steps = (n_labeled + n_unlabeled) // batch
        stages.append(StagePlan(f"stage 1 ({cfg.features})", cfg.feature_epochs, steps, timed_steps(stage_step)))
        spec = stage_spec(cfg.features, cfg.feature_code, "bernoulli")
    sched = make_schedule(cfg, n_unlabeled, n_labeled)
    net = build_network(cfg.model, input_dim, num_classes, model_config(cfg.model, **cfg.model_options), 0, spec)
    net = net.to(device)
    opt = adam(net.parameters(), cfg.lr)
    loss_fn, obj = loss_function(net), ObjectiveConfig.of(cfg, sched.weights)
    xl = torch.rand(sched.labeled_batch, input_dim, generator=gen, device=device).round()
    xu = torch.rand(sched.unlabeled_batch, input_dim, generator=gen, device=device).round()
    yl = torch.randint(0, num_classes, (sched.labeled_batch,), generator=gen, device=device)

    def model_step():
        with autocast(device):
            loss, _ = loss_fn(net, xl, yl, xu, gen, obj, 1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    stages.append(StagePlan(cfg.model, cfg.epochs, sched.steps_per_epoch, timed_steps(model_step)))
    return stages
