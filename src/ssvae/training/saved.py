"""Saved models without pickle: `config.json` (how to rebuild the network, the class names, the preprocessing)
beside `model.safetensors` (the weights). Loading reads JSON and raw tensors only, so a model from an
untrusted source cannot run code; a damaged file is named in one line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.features import build_network
from ..core.models import SemiSupervisedVAE, model_config
from ..data.preprocess import Preprocessing
from ..errors import SSVAEError
from ..files import replace_atomically
from . import rundir as rd

FORMAT, VERSION = "ssvae-model", 1
CONFIG, WEIGHTS = "config.json", "model.safetensors"


def json_classes(classes: np.ndarray) -> list[Any]:
    return [c.item() if isinstance(c, np.generic) else c for c in classes]


def save_model(
    directory: str | os.PathLike,
    state: dict[str, torch.Tensor],
    model: str,
    meta: dict[str, Any],
    preprocessing: dict[str, Any],
    info: dict[str, Any] | None = None,
) -> Path:
    """Write DIR/config.json and DIR/model.safetensors, each atomically (ssvae.files.replace_atomically)."""
    from safetensors.torch import save

    directory = Path(directory)
    make_model_dir(directory)
    config = {
        "format": FORMAT,
        "version": VERSION,
        "model": model,
        "model_config": meta["model_config"],
        "features": meta.get("features"),  # the feature stage in front of the model (its weights: stage.*), or null
        "input_dim": meta["derived"]["input_dim"],
        "num_classes": meta["derived"]["num_classes"],
        "classes": meta["derived"]["classes"],
        "preprocessing": preprocessing,
        "info": info or {},
    }
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    replace_atomically(directory / WEIGHTS, lambda f: f.write(save(tensors)))
    replace_atomically(directory / CONFIG, lambda f: f.write((json.dumps(config, indent=2) + "\n").encode()))
    return directory


def make_model_dir(directory: Path) -> None:
    """The folder a model is saved into, or one line saying why it cannot be (nothing is written then)."""
    if directory.exists() and not directory.is_dir():
        raise SSVAEError(f"{directory} is an existing file, not a folder; give the name of a new or existing folder")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SSVAEError(f"cannot create {directory} ({e.strerror or type(e).__name__}); choose another folder") from e


def model_dir(path: str | os.PathLike) -> Path:
    """A saved model directory, or a run directory (its kept model, `model-best/`)."""
    path = Path(path)
    if (path / CONFIG).is_file() and (path / WEIGHTS).is_file():
        return path
    if (path / rd.MODEL_BEST / WEIGHTS).is_file():
        return path / rd.MODEL_BEST
    if (path / rd.HISTORY).is_file():
        raise SSVAEError(f"{path} is a run directory without an exported model: finish it with `ssvae train` first")
    raise SSVAEError(f"{path} holds no saved model ({CONFIG} and {WEIGHTS}); give a model or run directory")


def load_model(
    path: str | os.PathLike, device: torch.device | str = "cpu"
) -> tuple[SemiSupervisedVAE, dict[str, Any], Preprocessing]:
    """The network (in eval mode), its config.json, and its preprocessing."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = model_dir(path)
    try:
        config = json.loads((directory / CONFIG).read_text())
        if config.get("format") != FORMAT:
            raise SSVAEError(f"{directory / CONFIG} is not an ssvae model (format {config.get('format')!r})")
        mcfg = model_config(config["model"], **config["model_config"])
        features = config.get("features")
        model = build_network(config["model"], config["input_dim"], config["num_classes"], mcfg, 0, features)
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise SSVAEError(f"{directory / CONFIG} is damaged ({type(e).__name__}: {e}); save the model again") from e
    try:
        state = load_file(directory / WEIGHTS)
        model.load_state_dict(state)
    except (SafetensorError, RuntimeError, OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SSVAEError(
            f"{directory / WEIGHTS} is damaged or does not match {CONFIG} ({first[:200]}); save the model again"
        ) from e
    model.to(device).eval()
    return model, config, Preprocessing.from_json(config["preprocessing"])
