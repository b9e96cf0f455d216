"""The training arrays on the device, and the device itself by name."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import SSVAEError
from .sources import Dataset
from .splits import Split


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when present; every other name goes to torch, with a readable refusal."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise SSVAEError(f"unknown device '{name}'; use auto, cpu or cuda") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SSVAEError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto")
    return device


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 -> float32 [0, 1]; floating images are already in [0, 1] and keep their dtype."""
    return x if x.is_floating_point() else x.float().div_(255.0)


@dataclass
class DeviceData:
    """The training-time arrays, resident on the device so batches are gathered there without a host copy."""

    x_lab: torch.Tensor
    y_lab: torch.Tensor
    x_unl: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor

    @classmethod
    def from_split(cls, ds: Dataset, split: Split, device: torch.device) -> "DeviceData":
        def put(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a)).to(device)

        return cls(
            put(ds.x_train[split.labeled]),
            put(ds.y_train[split.labeled]),
            put(ds.x_train[split.unlabeled]),
            put(ds.x_train[split.validation]),
            put(ds.y_train[split.validation]),
        )
