"""Data sets by name, validated once, split by a seed, and held on the device.

Images are kept as uint8 (0..255) wherever the source is 8-bit, so that a whole data set fits on the
device four times smaller than float32; `to_unit` turns a batch into [0, 1] floats on the fly.
The official test split is loaded here but only `evaluate` ever reads it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .errors import SSVAEError

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray  # [N, D] uint8 in 0..255, or float32 in [0, 1]
    y_train: np.ndarray  # [N] int64 in 0..K-1
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, int]  # (H, W) for pictures; H * W == D
    num_classes: int

    @property
    def dim(self) -> int:
        return int(self.x_train.shape[1])


# --------------------------------------------------------------------------------------------------------
# Array checks: every source ends here, so users' own files get the same clear messages as built-in ones.


def luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma of uint8 RGB (channel last), rounded exactly as PIL's convert('L') does."""
    rgb = rgb.astype(np.uint32)
    return ((rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16).astype(np.uint8)


def _images(x: np.ndarray, what: str, source: str) -> tuple[np.ndarray, tuple[int, int]]:
    """Flatten [N,H,W], [N,H,W,3] or [N,D] into [N,D] and scale-check the pixels."""
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise SSVAEError(f"{source}: {what} has dtype {x.dtype}; images must be integers 0..255 or floats in [0, 1]")
    if x.ndim == 4 and x.shape[-1] == 3:
        if not np.issubdtype(x.dtype, np.integer):
            raise SSVAEError(
                f"{source}: {what} is RGB float; give RGB images as uint8 0..255 to be converted to grayscale"
            )
        x = luma(x)
    if x.ndim == 3:
        shape = (int(x.shape[1]), int(x.shape[2]))
    elif x.ndim == 2:
        d = int(x.shape[1])
        side = int(round(d**0.5))
        shape = (side, side) if side * side == d else (1, d)
    else:
        raise SSVAEError(f"{source}: {what} has shape {tuple(x.shape)}; expected [N, H, W], [N, H, W, 3] or [N, D]")
    flat = x.reshape(len(x), -1)
    if flat.shape[0] == 0 or flat.shape[1] == 0:
        raise SSVAEError(f"{source}: {what} is empty (shape {tuple(x.shape)})")
    if np.issubdtype(flat.dtype, np.floating):
        if not np.isfinite(flat).all():
            raise SSVAEError(f"{source}: {what} contains NaN or inf pixels; remove or repair those images")
        lo, hi = float(flat.min()), float(flat.max())
        if lo >= 0.0 and hi <= 1.0:
            return flat.astype(np.float32), shape
        if lo >= 0.0 and hi <= 255.0 and np.all(flat == np.round(flat)):
            return flat.astype(np.uint8), shape
        raise SSVAEError(
            f"{source}: {what} pixels range over [{lo:g}, {hi:g}]; scale them to [0, 1] or to integers 0..255"
        )
    lo, hi = int(flat.min()), int(flat.max())
    if lo < 0 or hi > 255:
        raise SSVAEError(f"{source}: {what} pixels range over {lo}..{hi}; integer images must lie in 0..255")
    return flat.astype(np.uint8), shape


def _labels(y: np.ndarray, n: int, what: str, source: str) -> np.ndarray:
    if y.ndim != 1 or len(y) != n:
        raise SSVAEError(f"{source}: {what} has shape {tuple(y.shape)}; expected [{n}], one label per image")
    if np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.integer):
        raise SSVAEError(f"{source}: {what} has dtype {y.dtype}; labels must be integers 0..K-1")
    return y.astype(np.int64)


def validate_arrays(
    name: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    source: str | None = None,
) -> Dataset:
    """Check and normalise raw arrays into a Dataset, or say in one line what to fix."""
    source = source or name
    xtr, shape = _images(np.asarray(x_train), "x_train", source)
    xte, shape_te = _images(np.asarray(x_test), "x_test", source)
    if xtr.shape[1] != xte.shape[1]:
        raise SSVAEError(f"{source}: x_train images have {xtr.shape[1]} pixels but x_test images {xte.shape[1]}")
    if xtr.dtype != xte.dtype:  # one 0..255 and one [0, 1]: bring both to [0, 1]
        xtr, xte = (a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a for a in (xtr, xte))
    ytr = _labels(np.asarray(y_train), len(xtr), "y_train", source)
    yte = _labels(np.asarray(y_test), len(xte), "y_test", source)
    k = int(ytr.max()) + 1
    if ytr.min() < 0 or yte.min() < 0 or yte.max() >= k:
        lo, hi = min(ytr.min(), yte.min()), max(ytr.max(), yte.max())
        raise SSVAEError(
            f"{source}: labels range over {lo}..{hi} but must lie in 0..K-1 with every class in y_train "
            f"(K = {k} from y_train); relabel them as 0..K-1"
        )
    missing = sorted(set(range(k)) - set(np.unique(ytr).tolist()))
    if missing:
        raise SSVAEError(
            f"{source}: classes {missing} have no training images; labels must be 0..K-1 with none missing"
        )
    if k < 2:
        raise SSVAEError(f"{source}: y_train has a single class; classification needs at least two")
    return Dataset(name, xtr, ytr, xte, yte, shape, k)


# --------------------------------------------------------------------------------------------------------
# Sources


def default_data_dir() -> Path:
    return Path(os.environ.get("SSVAE_DATA", Path.home() / ".cache" / "ssvae"))


def load_npz(path: str | os.PathLike, name: str | None = None) -> Dataset:
    path = Path(path)
    if not path.is_file():
        raise SSVAEError(f"{path}: no such file; give an existing .npz with x_train, y_train, x_test, y_test")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in NPZ_KEYS if k not in f.files]
            if missing:
                raise SSVAEError(
                    f"{path}: lacks {', '.join(missing)}; an ssvae .npz needs the arrays {', '.join(NPZ_KEYS)}"
                )
            arrays = {k: f[k] for k in NPZ_KEYS}
    except SSVAEError:
        raise
    except Exception as e:  # a corrupt or non-npz file: say so, not where numpy broke
        raise SSVAEError(f"{path}: cannot be read as .npz ({type(e).__name__}: {e}); write it with numpy.savez") from e
    return validate_arrays(name or path.stem, **arrays, source=str(path))


def _digits(root: Path, download: bool) -> dict[str, np.ndarray]:
    """scikit-learn's bundled 8x8 digits (values 0..16); a fixed stratified 1497/300 train/test split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=300, stratify=d.target, random_state=0)
    return dict(x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)


def _torchvision(cls_name: str, split_kw: Callable[[bool], dict]) -> Callable[[Path, bool], dict[str, np.ndarray]]:
    """Fetch through torchvision's own data set class (its download, mirrors and checksums)."""

    def load(root: Path, download: bool) -> dict[str, np.ndarray]:
        import torchvision.datasets as tvd

        cls = getattr(tvd, cls_name)
        out = {}
        for train, key in ((True, "train"), (False, "test")):
            try:
                ds = cls(root=str(root), download=download, **split_kw(train))
            except RuntimeError as e:
                raise SSVAEError(
                    f"{cls_name} not found under {root} ({e}); pass --data-dir with <name>.npz, or allow the download"
                ) from e
            except OSError as e:  # no network, or a host refused
                raise SSVAEError(
                    f"{cls_name} could not be downloaded to {root} ({e}); check the network or give --data-dir"
                ) from e
            x = ds.data.numpy() if isinstance(ds.data, torch.Tensor) else np.asarray(ds.data)
            if x.ndim == 4 and x.shape[1] == 3:  # SVHN stores [N, 3, H, W]
                x = x.transpose(0, 2, 3, 1)
            labels = getattr(ds, "labels", None)
            y = np.asarray(labels if labels is not None else ds.targets)
            out[f"x_{key}"], out[f"y_{key}"] = x, y % 10 if cls_name == "SVHN" else y  # SVHN's '10' is digit 0
        return out

    return load


SOURCES: dict[str, Callable[[Path, bool], dict[str, np.ndarray]]] = {
    "digits": _digits,
    "mnist": _torchvision("MNIST", lambda train: {"train": train}),
    "fashion-mnist": _torchvision("FashionMNIST", lambda train: {"train": train}),
    "kmnist": _torchvision("KMNIST", lambda train: {"train": train}),
    "cifar10": _torchvision("CIFAR10", lambda train: {"train": train}),
    "svhn": _torchvision("SVHN", lambda train: {"split": "train" if train else "test"}),
}


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, download: bool = True) -> Dataset:
    """Resolve a data set: DIR/<name>.npz first, then a path to an .npz, then torchvision's download."""
    if name.endswith(".npz") or Path(name).is_file():
        return load_npz(name)
    if name not in SOURCES:
        raise SSVAEError(
            f"unknown dataset '{name}'; known: {', '.join(SOURCES)}, or a path to an .npz with {', '.join(NPZ_KEYS)}"
        )
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    for stem in (name, name.replace("-", "_"), name.replace("-", "")):
        if (root / f"{stem}.npz").is_file():
            return load_npz(root / f"{stem}.npz", name)
    return validate_arrays(name, **SOURCES[name](root, download), source=name)


# --------------------------------------------------------------------------------------------------------
# Splits


@dataclass(frozen=True)
class Split:
    """Indices into the training split; the three parts are disjoint and together cover it."""

    labeled: np.ndarray
    unlabeled: np.ndarray
    validation: np.ndarray

    def save(self, path: str | os.PathLike) -> None:
        np.savez(path, labeled=self.labeled, unlabeled=self.unlabeled, validation=self.validation)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Split":
        with np.load(path) as f:
            return cls(f["labeled"], f["unlabeled"], f["validation"])


def default_val_size(n_train: int) -> int:
    """5000 as the paper's relatives do, but never more than a tenth of a small training split."""
    return min(5000, n_train // 10)


def make_split(y_train: np.ndarray, labels_per_class: int, val_size: int | None, seed: int) -> Split:
    """Validation held out at random, then exactly N labeled per class; the rest is unlabeled."""
    n = len(y_train)
    val_size = default_val_size(n) if val_size is None else val_size
    if labels_per_class < 1:
        raise SSVAEError(f"--labels-per-class must be at least 1, got {labels_per_class}")
    if not 0 <= val_size < n:
        raise SSVAEError(f"--val-size {val_size} must lie in 0..{n - 1} (the training split has {n} images)")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    validation, rest = np.sort(perm[:val_size]), perm[val_size:]
    labeled = []
    for k in range(int(y_train.max()) + 1):
        members = rest[y_train[rest] == k]
        if len(members) < labels_per_class:
            raise SSVAEError(
                f"--labels-per-class {labels_per_class} is more than class {k} has "
                f"({len(members)} training images outside validation); use at most {len(members)}"
            )
        labeled.append(members[:labels_per_class])  # `rest` is already in random order
    labeled = np.sort(np.concatenate(labeled))
    unlabeled = np.sort(np.setdiff1d(rest, labeled))
    if len(unlabeled) == 0:
        raise SSVAEError("no unlabeled images remain; lower --labels-per-class or --val-size")
    return Split(labeled, unlabeled, validation)


# --------------------------------------------------------------------------------------------------------
# On the device


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
