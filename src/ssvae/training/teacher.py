"""The graph teacher of a run (`--teacher`): Poisson learning's class and confidence for every unlabeled row
(`ssvae.graph.teacher`), on the k-nearest-neighbour graph of what the model sees, its feature stage's code or the
inputs themselves, computed once when the run opens (again, identically, when it resumes) and kept on the device
beside the rows, where each step gathers its batch's (`run.Run.targets`). Prediction never needs it: the graph
teaches while the model trains, and a saved model holds no graph and no training data."""

from __future__ import annotations

import torch
from torch import nn

from ..data import DeviceData
from ..data.device import to_unit
from ..errors import SSVAEError
from ..graph.knn import graphlearning
from ..graph.teacher import pseudo_labels
from .stage1 import code_function


def check_teacher(teacher: float, supervised_only: bool) -> None:
    """Refuse, before anything trains, a teacher the run cannot have."""
    if not teacher:
        return
    if supervised_only:
        raise SSVAEError("--teacher needs a generative model (its term sits beside the unlabeled bound); drop it")
    graphlearning()  # installed, or one line saying how


def teacher_targets(data: DeviceData, num_classes: int, stage: nn.Module | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The class (int64) and confidence (float32) of each unlabeled row, on the rows' device; `stage`: the feature
    stage whose code the graph is built on (None: the inputs)."""
    encode = code_function(stage) if stage is not None else lambda x: x
    x_lab, x_unl = (encode(to_unit(r).cpu().numpy()) for r in (data.x_lab, data.x_unl))
    taught = pseudo_labels(x_lab, data.y_lab.cpu().numpy(), x_unl, num_classes)
    device = data.x_unl.device
    return torch.from_numpy(taught.labels).to(device), torch.from_numpy(taught.confidence).to(device)
