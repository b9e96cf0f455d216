"""Sizes and orders derived from the data and the config: steps per epoch, batch orders, the KL warm-up."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..core.objectives import WEIGHTINGS, TermWeights
from .config import TrainConfig


@dataclass
class Schedule:
    """Sizes derived from the data: one epoch is one pass over the unlabeled set."""

    steps_per_epoch: int
    unlabeled_batch: int
    labeled_batch: int
    labeled_batches_per_epoch: int
    weights: TermWeights


def steps_per_epoch(rows: int, batch: int) -> int:
    """Steps of one pass over `rows` in batches of `batch` (all of them when fewer): the ragged tail is dropped,
    so that every step has the same shape."""
    return rows // min(batch, rows)


def make_schedule(cfg: TrainConfig, n_unlabeled: int, n_labeled: int) -> Schedule:
    """The run's sizes: batches, steps per epoch and the objective's term weights."""
    bu = min(cfg.batch_size, n_unlabeled)
    bl = min(cfg.labeled_batch_size, n_labeled)
    steps = steps_per_epoch(n_unlabeled, cfg.batch_size)
    labeled_batches = math.ceil(n_labeled / bl)
    weights = WEIGHTINGS[cfg.weighting](n_labeled, n_unlabeled, labeled_batches, steps, cfg.alpha)
    return Schedule(steps, bu, bl, labeled_batches, weights)


def epoch_indices(n: int, steps: int, batch: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """[steps, batch] indices: consecutive random permutations of 0..n-1, cycled as often as needed."""
    reps = math.ceil(steps * batch / n)
    perms = torch.rand((reps, n), generator=gen, device=device).argsort(dim=1)
    return perms.flatten()[: steps * batch].view(steps, batch)


def kl_warmup(step: int, warmup_steps: int) -> float:
    """Linear 0 -> 1 over the warm-up (Sønderby et al. 2016); scales only the continuous latents' KL."""
    return 1.0 if warmup_steps == 0 else min(1.0, step / warmup_steps)
