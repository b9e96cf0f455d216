"""Model registry: name -> (class, config dataclass). Add a model by adding one file and one line."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from ..errors import SSVAEError
from .adgm import ADGM, ADGMConfig
from .base import LIKELIHOODS, Bound, SemiSupervisedVAE, init_parameters
from .classifier import Classifier, ClassifierConfig
from .lvae import LVAE, LVAEConfig
from .m2 import M2, M2Config

MODELS: dict[str, tuple[type[SemiSupervisedVAE], type]] = {
    "m2": (M2, M2Config),
    "adgm": (ADGM, ADGMConfig),
    "lvae": (LVAE, LVAEConfig),
    "classifier": (Classifier, ClassifierConfig),
}


def model_config(name: str, **overrides: Any) -> Any:
    """The model's config dataclass with the paper's defaults, overridden where the field exists."""
    if name not in MODELS:
        raise SSVAEError(f"unknown model '{name}'; known: {', '.join(MODELS)}")
    cfg_cls = MODELS[name][1]
    fields = {f.name for f in dataclasses.fields(cfg_cls)}
    cfg = cfg_cls(**{k: v for k, v in overrides.items() if k in fields and v is not None})
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        values = v if isinstance(v, (tuple, list)) else [v]
        if any(isinstance(i, int) and not isinstance(i, bool) and i < 1 for i in values):
            raise SSVAEError(f"model option {f.name} must be at least 1, got {v}")
    lik = getattr(cfg, "likelihood", None)
    if lik is not None and lik not in LIKELIHOODS:
        raise SSVAEError(f"unknown likelihood '{lik}'; known: {', '.join(LIKELIHOODS)}")
    return cfg


def build_model(name: str, input_dim: int, num_classes: int, cfg: Any, seed: int) -> SemiSupervisedVAE:
    """Construct and initialise on the CPU from a generator seeded with `seed`: identical on CPU and GPU, also
    under torch.set_default_device("cuda") (the caller moves the model where it trains)."""
    with torch.device("cpu"):
        model = MODELS[name][0](input_dim, num_classes, cfg)
        init_parameters(model, torch.Generator(device="cpu").manual_seed(seed))
    return model


__all__ = ["MODELS", "Bound", "SemiSupervisedVAE", "build_model", "model_config"]
