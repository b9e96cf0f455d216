"""The training steps the benchmarks time, at Fashion-MNIST's shapes (batches of 200 labeled + 200 unlabeled, 784
pixels, 10 classes) on synthetic data: speed does not depend on pixel values. Each is what a verbose fit times
(`ssvae.training.time_estimate`): the model's step on the pixels or on M1's code, and one step of stage 1."""

from __future__ import annotations

import torch

from ssvae.core.features import build_network
from ssvae.core.models import model_config
from ssvae.core.objectives import ObjectiveConfig, sum_weights
from ssvae.training import time_estimate

D, K, B = 784, 10, 200
STEPS_PER_EPOCH = 274  # Fashion-MNIST at 10 labels per class: 54,900 unlabeled rows in batches of 200
CODE = {"name": "m1", "code": "mean", "likelihood": "bernoulli"}  # the model on M1's code
CPU = torch.device("cpu")


def model_step(name: str, spec, precision: str, **options):
    """The model's step (on the pixels, or with `spec` on a feature stage's code); `options`: the model's own (e.g.
    hidden=300)."""
    net = build_network(name, D, K, model_config(name, **options), 0, spec)
    obj = ObjectiveConfig(weights=sum_weights(100, 54900))
    return time_estimate.model_step(net, D, obj, (B, B), 3e-4, precision, CPU, torch.Generator().manual_seed(0))


def stage_step(precision: str, batch: int = B):
    """One step of M1, stage 1, on `batch` inputs."""
    return time_estimate.stage_step("m1", D, batch, 3e-4, precision, CPU, torch.Generator().manual_seed(0))
