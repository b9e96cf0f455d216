"""What a saved estimator holds beside its network (`SemiSupervisedClassifier.save` and `.load`): its parameters,
the fitted attributes prediction and a later warm start need, and its history. The network, its config.json and
its preprocessing are `ssvae.records.saved`'s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from .core.features import NO_FEATURES
from .data.preprocess import Preprocessing
from .errors import SSVAEError
from .fit_inputs import NETWORK_PARAMS
from .records.saved import json_classes
from .training.state import warm_state


def saved_record(est: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A fitted estimator's config.json parts: what rebuilds its network (`meta`) and its own record (`info`)."""
    meta = {k: est.config_.get(k) for k in ("model_config", "features", "derived")}
    meta["derived"] = {**meta["derived"], "classes": json_classes(est.classes_)}
    info = {
        "params": {k: v for k, v in est.get_params().items() if k != "random_state"},
        "seed": est.seed_,
        "n_features_in": est.n_features_in_,
        "likelihood": est.likelihood_,
        "teacher": est.teacher_,
        "enumerate_top": est.enumerate_top_,
        "best_epoch": est.best_epoch_,
        "n_iter": est.n_iter_,
        "step": est.train_state_["step"],
        "history": est.history_,
    }
    return meta, info


def saved_params(config: dict[str, Any], directory: str | Path, names: list[str]) -> dict[str, Any]:
    """The estimator's parameters a saved model records (those it still has), checked to be a table."""
    params = config.get("info", {}).get("params", {})
    if not isinstance(params, dict):
        raise SSVAEError(f"{directory}: config.json is damaged: info.params must be a table; save the model again")
    return {k: v for k, v in params.items() if k in names}


def restore_fitted(est: Any, model: nn.Module, config: dict[str, Any], pre: Preprocessing, params: dict) -> None:
    """The fitted attributes of a loaded estimator, ready to predict; a warm start after loading continues from the
    saved weights with a fresh optimizer."""
    info = config.get("info", {})
    est.model_, est.preprocessing_ = model, pre
    est.classes_ = np.asarray(config["classes"])
    est.seed_ = info.get("seed", 0)
    est.n_features_in_ = pre.dim
    est.likelihood_ = config["model_config"].get("likelihood", "bernoulli")
    est.features_ = (config.get("features") or {}).get("name", NO_FEATURES)
    est.teacher_ = info.get("teacher", 0.0)  # what a warm start after loading trains with
    est.enumerate_top_ = info.get("enumerate_top", 0)
    est.history_ = info.get("history", [])
    est.best_epoch_, est.n_iter_ = info.get("best_epoch", 0), info.get("n_iter", 0)
    derived = {k: config[k] for k in ("input_dim", "num_classes", "classes")}
    est.config_ = {"model_config": config["model_config"], "features": config.get("features"), "derived": derived}
    est.network_ = {k: v for k, v in params.items() if k in NETWORK_PARAMS}
    est.train_state_ = warm_state(model.state_dict(), None, info.get("step", 0))
