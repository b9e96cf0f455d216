"""Model registry: name -> `ModelEntry` (class, config, display name, colour). Add a model with one file and one
`register` call; the command line, sweeps, reproduce, report and the demo read the registry, in its order.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from ...errors import SSVAEError
from ...settings import KIND_WORDS, Setting, check_value, fits_kind, kinds, python_name
from ..interface import Bound, SemiSupervisedVAE
from ..layers import INITS, init_parameters
from ..likelihoods import LIKELIHOODS
from .adgm import ADGM, ADGMConfig
from .classifier import Classifier, ClassifierConfig
from .lvae import LVAE, LVAEConfig
from .m2 import M2, M2Config


@dataclass(frozen=True)
class ModelEntry:
    cls: type[SemiSupervisedVAE]
    config: type  # a dataclass of the model's options, with the paper's defaults
    label: str  # its name in tables, figures and the demo
    color: str  # its colour in figures (matplotlib)

    @property
    def supervised_only(self) -> bool:
        return self.cls.supervised_only


MODELS: dict[str, ModelEntry] = {}


def register(name: str, cls: type[SemiSupervisedVAE], config: type, label: str, color: str) -> ModelEntry:
    """Add a model to the registry: `--model NAME`, sweeps, `reproduce --models`, reports and figures then know it.

    Parameters
    ----------
    name : str
        Its name on the command line and in grid files.
    cls : type
        A `SemiSupervisedVAE` taking `(input_dim, num_classes, cfg)`.
    config : type
        Its config dataclass.
    label : str
        Its name in tables and legends.
    color : str
        Its colour in figures.

    Returns
    -------
    ModelEntry
    """
    MODELS[name] = entry = ModelEntry(cls, config, label, color)
    return entry


register("m2", M2, M2Config, "M2", "C0")
register("adgm", ADGM, ADGMConfig, "ADGM", "C1")
register("lvae", LVAE, LVAEConfig, "LVAE", "C2")
register("classifier", Classifier, ClassifierConfig, "supervised only", "C7")


def generative_models() -> list[str]:
    """The models with a generative part (trained with or without MIER), in registry order."""
    return [n for n, e in MODELS.items() if not e.supervised_only]


def takes_option(model: str, option: str) -> bool:
    """Whether a registered model's config has this option (M2 has a likelihood; the classifier has none)."""
    return model in MODELS and option in {f.name for f in dataclasses.fields(MODELS[model].config)}


def display_order() -> list[tuple[str, bool]]:
    """(model, MIER) rows of tables and figures: each generative model without and with MIER, then the
    supervised-only models."""
    rows = [(n, mier) for n in generative_models() for mier in (False, True)]
    return rows + [(n, False) for n, e in MODELS.items() if e.supervised_only]


# The options a user may set on a model (`model_options`; flags of `ssvae train`; the estimator's parameters).
# A model takes those among them that its config has; asking a model for one it lacks is refused.
MODEL_OPTIONS: dict[str, Setting] = {
    "likelihood": Setting("decoder likelihood (default bernoulli)", choices=lambda: LIKELIHOODS, type=str),
    "hidden": Setting("hidden units per layer of the encoders and decoder (default: the paper's)", type=int),
    "z_dim": Setting("size of the continuous latent z (default: the paper's; not LVAE)", type=int),
    "classifier_hidden": Setting("hidden units of q(y|x) (default: the paper's)", type=int),
    "min_logvar": Setting(
        "M2: floor c on q(z|x,y)'s log-variance, logvar = c + softplus(raw) (0: variance >= 1, as the widely used "
        "PyTorch implementation); default unconstrained, as the paper",
        type=float,
    ),
    "init": Setting(
        "how the Linear layers start: pytorch (nn.Linear's own, the default) or xavier (Xavier-normal weights, zero "
        "biases, as the widely used PyTorch implementation)",
        choices=lambda: INITS,
        type=str,
    ),
    "predict_samples": Setting(
        "ADGM: draws of a averaged in q(y|x) = E_q(a|x) q(y|a,x) at prediction (default 10)", type=int
    ),
}


def model_config(name: str, spell=python_name, **overrides: Any) -> Any:
    """A model's config dataclass with the paper's defaults (section 5.2) and the given options.

    An option the model does not have is refused in one line naming the model's options (never silently dropped).

    Parameters
    ----------
    name : str
        A key of `MODELS`.
    spell : callable
        How option names are spelled in that message (Python names, or flags for the command line).
    **overrides
        Options of that model: `hidden`, `z_dim`, `classifier_hidden`, ...

    Returns
    -------
    dataclass
    """
    if name not in MODELS:
        raise SSVAEError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    cfg_cls = MODELS[name].config
    fields = [f.name for f in dataclasses.fields(cfg_cls)]
    given = {k: v for k, v in overrides.items() if v is not None}
    for k in given:
        if k not in fields:
            raise SSVAEError(f"model {name} has no option {spell(k)}; its options: {', '.join(map(spell, fields))}")
    for k, v in given.items():  # the declared type, so that a damaged saved model or a wrong value is named
        if not fits_kind(v, kinds(cfg_cls)[k]):
            raise SSVAEError(f"model option {spell(k)} must be {KIND_WORDS.get(kinds(cfg_cls)[k])}, got {v!r}")
    cfg = cfg_cls(**given)
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        values = v if isinstance(v, (tuple, list)) else [v]
        if any(isinstance(i, int) and not isinstance(i, bool) and i < 1 for i in values):
            raise SSVAEError(f"model option {spell(f.name)} must be at least 1, got {v}")
    for k, s in MODEL_OPTIONS.items():  # declared choices (likelihood, init) and finite numbers (min_logvar)
        check_value(k, getattr(cfg, k, None), s, spell)
    return cfg


def build_model(name: str, input_dim: int, num_classes: int, cfg: Any, seed: int) -> SemiSupervisedVAE:
    """A registered model, initialised on the CPU from a generator seeded with `seed`.

    Identical on CPU and GPU, also under `torch.set_default_device("cuda")`; the caller moves it where it trains.

    Parameters
    ----------
    name : str
        A key of `MODELS`: "m2", "adgm", "lvae" or "classifier".
    input_dim : int
        Features per input (pixels of an image).
    num_classes : int
    cfg : dataclass
        The model's config (`model_config(name, ...)`).
    seed : int

    Returns
    -------
    SemiSupervisedVAE
        A plain `nn.Module` whose `bound(x, y_or_None, generator)` returns the pieces of eq. 1-3.
    """
    with torch.device("cpu"):
        model = MODELS[name].cls(input_dim, num_classes, cfg)
        init_parameters(model, torch.Generator(device="cpu").manual_seed(seed), cfg.init)
    return model


__all__ = [
    "MODELS",
    "MODEL_OPTIONS",
    "Bound",
    "ModelEntry",
    "SemiSupervisedVAE",
    "build_model",
    "display_order",
    "generative_models",
    "model_config",
    "register",
]
