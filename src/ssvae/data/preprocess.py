"""How users' arrays become the model's [N, D] float32 features, and back; saved with every model.

Images (uint8 0..255, or floats already in [0, 1]) are modelled as [0, 1] intensities, as the paper does.
Anything else (tables, embeddings, raw counts) is standardised per feature and modelled with a Gaussian
decoder: the Bernoulli likelihood is meaningless outside [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SSVAEError

# likelihood -> the preprocessing it needs
KIND_OF_LIKELIHOOD = {"bernoulli": "unit", "continuous-bernoulli": "unit", "gaussian": "standardize"}


def unit_intensities(x: np.ndarray) -> np.ndarray:
    """float32 [0, 1] intensities: uint8 images divided by 255, floats as they are."""
    out = x.astype(np.float32)
    return out / 255.0 if x.dtype == np.uint8 else out


def in_unit_range(x: np.ndarray) -> bool:
    """uint8 images, or floats (and 0/1 integers) within [0, 1]."""
    if x.dtype == np.uint8:
        return True
    return bool(x.size) and float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def choose_likelihood(x: np.ndarray, likelihood: str) -> str:
    """'auto': Bernoulli for [0, 1] intensities and uint8 images, else Gaussian on standardised features."""
    if likelihood == "auto":
        return "bernoulli" if in_unit_range(x) else "gaussian"
    if likelihood not in KIND_OF_LIKELIHOOD:
        raise SSVAEError(f"unknown likelihood '{likelihood}'; known: auto, {', '.join(KIND_OF_LIKELIHOOD)}")
    if KIND_OF_LIKELIHOOD[likelihood] == "unit" and not in_unit_range(x):
        raise SSVAEError(
            f"likelihood '{likelihood}' needs features in [0, 1] (or uint8 images), but X ranges over "
            f"[{float(x.min()):g}, {float(x.max()):g}]; scale X or use likelihood='gaussian' (or 'auto')"
        )
    return likelihood


@dataclass
class Preprocessing:
    kind: str  # "unit" or "standardize"
    input_shape: tuple[int, ...]  # one example's shape as given to fit: (D,), (H, W) or (H, W, C)
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    source: dict[str, Any] | None = None  # the user's files it was read from: a folder's images, a table's columns

    @classmethod
    def fit(cls, x: np.ndarray, likelihood: str) -> "Preprocessing":
        flat = x.reshape(len(x), -1)
        if KIND_OF_LIKELIHOOD[likelihood] == "unit":
            return cls("unit", tuple(x.shape[1:]))
        mean = flat.astype(np.float64).mean(0)
        std = flat.astype(np.float64).std(0)
        std[std == 0] = 1.0  # constant features stay constant (zero) rather than dividing by zero
        return cls("standardize", tuple(x.shape[1:]), mean, std)

    @property
    def dim(self) -> int:
        return int(np.prod(self.input_shape))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """`[N, *input_shape]` or `[N, D]` -> float32 `[N, D]`."""
        flat = x.reshape(len(x), -1)
        if self.kind == "unit":
            return unit_intensities(flat)
        return ((flat - self.mean) / self.std).astype(np.float32)

    def inverse(self, x: np.ndarray) -> np.ndarray:
        """Model-space [n, D] back to the user's units and shape (samples, reconstructions)."""
        out = x if self.kind == "unit" else x * self.std + self.mean
        return out.reshape(len(x), *self.input_shape)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "input_shape": list(self.input_shape)}
        if self.kind == "standardize":
            d.update(mean=self.mean.tolist(), std=self.std.tolist())
        if self.source is not None:
            d["source"] = self.source
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Preprocessing":
        mean, std = (np.asarray(d[k], dtype=np.float64) if k in d else None for k in ("mean", "std"))
        return cls(d["kind"], tuple(d["input_shape"]), mean, std, d.get("source"))
