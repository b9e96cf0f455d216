"""Saved models without pickle: `config.json` (how to rebuild the network, the class names, the preprocessing)
beside `model.safetensors` (the weights). Loading reads JSON and raw tensors only, so a model from an
untrusted source cannot run code; a damaged file is named in one line."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..core.features import CODES, FEATURES, build_network
from ..core.likelihoods import LIKELIHOODS
from ..core.models import MODELS, SemiSupervisedVAE, model_config
from ..data.preprocess import KIND_OF_LIKELIHOOD, Preprocessing
from ..errors import SSVAEError
from ..files import json_text, read_json, replace_atomically
from . import rundir as rd

FORMAT, VERSION = "ssvae-model", 1
CONFIG, WEIGHTS = "config.json", "model.safetensors"


def json_classes(classes: np.ndarray) -> list[Any]:
    """Class labels as JSON values (numpy scalars made Python ones)."""
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
    replace_atomically(directory / CONFIG, lambda f: f.write((json_text(config, indent=2) + "\n").encode()))
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


def _is_int(v: Any, at_least: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= at_least


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _known(names) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and v in names


def _features_ok(v: Any) -> bool:
    return v is None or (
        isinstance(v, dict)
        and _known(FEATURES)(v.get("name"))
        and _known(CODES)(v.get("code"))
        and _known(LIKELIHOODS)(v.get("likelihood"))
    )


# config.json, field by field: name -> (test, what the field must be). Declared once: load_model checks each, and
# a failure names the file and the field.
SCHEMA: dict[str, tuple[Callable[[Any], bool], str]] = {
    "format": (lambda v: v == FORMAT, f"{FORMAT!r}"),
    "version": (lambda v: _is_int(v, 1) and v <= VERSION, f"a whole number from 1 to {VERSION}"),
    "model": (_known(MODELS), f"one of {', '.join(MODELS)}"),
    "model_config": (lambda v: isinstance(v, dict), "a table of the model's options"),
    "features": (_features_ok, f"null or a table with name ({', '.join(FEATURES)}), code and likelihood"),
    "input_dim": (lambda v: _is_int(v, 1), "a whole number of at least 1"),
    "num_classes": (lambda v: _is_int(v, 2), "a whole number of at least 2"),
    "classes": (lambda v: isinstance(v, list) and all(isinstance(c, (str, int)) for c in v), "a list of names"),
    "preprocessing": (lambda v: isinstance(v, dict), "a table"),
    "info": (lambda v: isinstance(v, dict), "a table"),
}
PREPROCESSING_KINDS = set(KIND_OF_LIKELIHOOD.values())


def check_config_json(config: Any, where: Path) -> None:
    """Every field of a saved model's config.json against `SCHEMA`, and the fields against each other; one line
    naming the file and the first field that is wrong."""

    def bad(field: str, must: str, got: Any) -> SSVAEError:
        shown = json.dumps(got)[:60] if not isinstance(got, Missing) else "nothing"
        return SSVAEError(f"{where} is damaged: {field} must be {must}, got {shown}; save the model again")

    if not isinstance(config, dict):
        raise SSVAEError(f"{where} is damaged: it holds {json.dumps(config)[:40]}, not a table; save the model again")
    for field, (test, must) in SCHEMA.items():
        value = config.get(field, Missing())
        if isinstance(value, Missing) and field == "info":
            continue
        if isinstance(value, Missing) or not test(value):
            raise bad(field, must, value)
    if len(config["classes"]) != config["num_classes"]:
        raise bad("classes", f"a list of num_classes ({config['num_classes']}) names", config["classes"])
    pre = config["preprocessing"]
    if pre.get("kind") not in PREPROCESSING_KINDS:
        raise bad("preprocessing.kind", f"one of {', '.join(sorted(PREPROCESSING_KINDS))}", pre.get("kind", Missing()))
    shape = pre.get("input_shape", Missing())
    if not (isinstance(shape, list) and shape and all(_is_int(d, 1) for d in shape)):
        raise bad("preprocessing.input_shape", "a list of whole numbers of at least 1", shape)
    if math.prod(shape) != config["input_dim"]:
        raise bad("preprocessing.input_shape", f"a shape of input_dim ({config['input_dim']}) values", shape)
    if pre["kind"] == "standardize":
        for k in ("mean", "std"):
            v = pre.get(k, Missing())
            if not (isinstance(v, list) and len(v) == config["input_dim"] and all(map(_is_number, v))):
                raise bad(f"preprocessing.{k}", f"a list of input_dim ({config['input_dim']}) finite numbers", v)
        if min(pre["std"]) <= 0:
            raise bad("preprocessing.std", "positive", min(pre["std"]))
    check_source(pre.get("source"), bad)


def check_source(src: Any, bad) -> None:
    """The user's files a model was trained from (`Preprocessing.source`): a folder of images, or a table's
    columns, which `ssvae predict` reads new files by."""
    if src is None:
        return
    if not (isinstance(src, dict) and src.get("kind") in ("image-folder", "table")):
        raise bad("preprocessing.source", "a table whose kind is image-folder or table", src)
    if src["kind"] == "table":
        columns, levels = src.get("columns", Missing()), src.get("levels", {})
        if not (isinstance(columns, list) and columns and all(isinstance(c, str) for c in columns)):
            raise bad("preprocessing.source.columns", "a list of column names", columns)
        if not (isinstance(levels, dict) and all(isinstance(v, list) for v in levels.values())):
            raise bad("preprocessing.source.levels", "a table of lists of values", levels)
        if not isinstance(src.get("label_column"), str):
            raise bad("preprocessing.source.label_column", "a column name", src.get("label_column", Missing()))


class Missing:
    """A field absent from config.json (told apart from a null)."""


def load_model(
    path: str | os.PathLike, device: torch.device | str = "cpu"
) -> tuple[SemiSupervisedVAE, dict[str, Any], Preprocessing]:
    """The network (in eval mode), its config.json (checked field by field: `SCHEMA`), and its preprocessing."""
    directory = model_dir(path)
    where = directory / CONFIG
    config = read_json(where, fix="save the model again")
    check_config_json(config, where)
    try:
        mcfg = model_config(config["model"], **config["model_config"])
        model = build_network(config["model"], config["input_dim"], config["num_classes"], mcfg, 0, config["features"])
    except SSVAEError as e:
        raise SSVAEError(f"{where} is damaged: model_config: {e}; save the model again") from e
    except (TypeError, ValueError, RuntimeError) as e:
        raise SSVAEError(
            f"{where} is damaged: model_config does not build a {config['model']} ({e}); save the model again"
        ) from e
    load_weights(model, directory / WEIGHTS)
    model.to(device).eval()
    return model, config, Preprocessing.from_json(config["preprocessing"])


def load_weights(model: torch.nn.Module, path: Path) -> None:
    """The saved tensors into `model`: each one present, of the right shape, and finite, or one line naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    def bad(what: str) -> SSVAEError:
        return SSVAEError(f"{path} does not match {CONFIG}: {what}; save the model again")

    try:
        state = load_file(path)
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SSVAEError(f"{path} is damaged ({first[:200]}); save the model again") from e
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    if missing:
        raise bad(f"it lacks tensor {missing[0]}" + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""))
    unexpected = [k for k in state if k not in expected]
    if unexpected:
        raise bad(f"it has tensor {unexpected[0]}, which the model does not")
    for k, v in expected.items():
        if state[k].shape != v.shape:
            raise bad(f"tensor {k} has shape {list(state[k].shape)}, the model's {list(v.shape)}")
        if state[k].is_floating_point() and not torch.isfinite(state[k]).all():
            raise SSVAEError(
                f"{path}: tensor {k} holds NaN or infinite values (the model diverged while training); train it "
                "again with a smaller learning rate"
            )
    model.load_state_dict(state)
