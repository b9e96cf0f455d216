"""From a config and the data to what trains: the model, its optimizer and lr schedule, sizes, the objective."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..core.features import build_network
from ..core.models import model_config
from ..core.objectives import ObjectiveConfig, loss_function
from ..data import Dataset, Split
from ..machine.hardware import adam
from .config import TrainConfig
from .schedule import Schedule, make_schedule


@dataclass
class Parts:
    model: torch.nn.Module
    model_config: Any
    opt: torch.optim.Optimizer
    lr_sched: torch.optim.lr_scheduler.LRScheduler
    sched: Schedule
    objective: ObjectiveConfig
    loss_fn: Callable


def build(
    cfg: TrainConfig,
    ds: Dataset,
    split: Split,
    device: torch.device,
    features: dict[str, Any] | None = None,
    stage: torch.nn.Module | None = None,
) -> Parts:
    """`features`/`stage`: the feature stage's record and its trained network (`ssvae.training.stage1`); the
    optimizer then sees only the model's parameters (the stage's weights are buffers)."""
    sched = make_schedule(cfg, len(split.unlabeled), len(split.labeled))
    mcfg = model_config(cfg.model, **cfg.model_options)
    model = build_network(cfg.model, ds.dim, ds.num_classes, mcfg, cfg.seed, features, stage).to(device)
    opt = adam(model.parameters(), cfg.lr, cfg.adam_betas)
    lr_sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.lr_decay_every, gamma=cfg.lr_decay)
    objective = ObjectiveConfig.of(cfg, sched.weights)
    return Parts(model, mcfg, opt, lr_sched, sched, objective, loss_function(model))
