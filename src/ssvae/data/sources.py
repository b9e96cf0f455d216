"""Data sets by name or file, validated once: images, labels (-1 marks unlabeled), class names.

Images are kept as uint8 (0..255) wherever the source is 8-bit, so that a whole data set fits on the
device four times smaller than float32 (`ssvae.data.device.to_unit` turns a batch into [0, 1] floats).
The official test split is loaded here but only evaluation ever reads it.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import SSVAEError

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class Dataset:
    """A data set's arrays as ssvae trains on them, and what it knows of them.

    Attributes
    ----------
    name : str
    x_train, y_train : ndarray
        `[N, D]` uint8 in 0..255 or float32 in [0, 1]; labels int64 in 0..K-1 (-1: unlabeled, for user data).
    x_test, y_test : ndarray
    image_shape : tuple of int
        (H, W) for images, H * W == D.
    num_classes : int
    classes : ndarray, optional
        Class names by code (default: the codes themselves).
    preprocessing : dict, optional
        For a folder of images or a table: how its files became these rows, as a saved model records it.
    test_origin : str, optional
        For data without a test split: how the test rows were held out of the labeled ones.
    """

    name: str
    x_train: np.ndarray  # [N, D] uint8 in 0..255, or float32 in [0, 1]
    y_train: np.ndarray  # [N] int64 in 0..K-1
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, int]  # (H, W) for pictures; H * W == D
    num_classes: int
    classes: np.ndarray | None = None  # class names, by code 0..K-1 (default: the codes themselves)
    preprocessing: dict | None = None  # how the user's files became these rows (`Preprocessing.to_json`), if not unit
    test_origin: str | None = None  # where the test split came from, when the data brought none

    def __post_init__(self) -> None:
        if self.classes is None:
            object.__setattr__(self, "classes", np.arange(self.num_classes))

    @property
    def partially_labeled(self) -> bool:
        """y_train carries its own -1 marks: the labels are the data's, not drawn by `make_split`."""
        return bool((self.y_train == UNLABELED).any())

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
    if x.size == 0:
        raise SSVAEError(f"{source}: {what} is empty (shape {tuple(x.shape)}); it needs at least one image")
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


UNLABELED = -1  # scikit-learn's mark for an unlabeled example (sklearn.semi_supervised)


def is_unlabeled(y: np.ndarray) -> np.ndarray:
    """Where y marks a row unlabeled: the integer -1, the text '-1' in a string array (an .npz cannot hold the
    object arrays that mix -1 with class names), or an empty cell as pandas reads one (NaN, None, blank text)."""
    if y.dtype.kind in "iu":
        return y == UNLABELED
    if y.dtype.kind == "f":
        return (y == UNLABELED) | np.isnan(y)
    if y.dtype.kind in "US":
        return np.isin(np.char.strip(y.astype(str)), ["-1", ""])
    return np.array([empty_cell(v) or (isinstance(v, (int, np.integer)) and v == UNLABELED) for v in y], dtype=bool)


def empty_cell(v) -> bool:
    """None, NaN (pandas' NA included) or blank text: a label left empty, as a spreadsheet leaves it."""
    if v is None or (isinstance(v, str) and v.strip() in ("", "-1")):
        return True
    try:
        return bool(v != v)  # NaN, pd.NA (its comparison is NA, whose truth raises) and NaT
    except TypeError:
        return True


def encode_labels(
    y_train: np.ndarray, y_test: np.ndarray | None, source: str
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Class names -> 0..K-1 in sorted order (as sklearn's `classes_`), -1 marks kept as -1; also the names."""
    unl = is_unlabeled(y_train)
    if y_train.dtype.kind == "f":  # whole numbers, with NaN for empty cells as pandas reads them: integers
        given = y_train[~unl]
        if np.all(np.isfinite(given)) and np.all(given == np.round(given)):
            y_train = np.where(unl, UNLABELED, y_train).astype(np.int64)
    if y_train.dtype.kind not in "iuUSO":
        raise SSVAEError(
            f"{source}: y_train has dtype {y_train.dtype}; labels must be integers or strings, -1 for unlabeled"
        )
    labeled = y_train[~unl]
    if labeled.dtype.kind == "O" and all(isinstance(v, str) for v in labeled):
        labeled = labeled.astype(str)
    try:
        classes = np.unique(labeled)
    except TypeError as e:
        raise SSVAEError(f"{source}: y_train mixes label types ({e}); use all strings or all integers") from e
    if len(classes) < 2:
        what = "no labeled example" if len(classes) == 0 else f"labels of only one class ({classes[0]})"
        raise SSVAEError(f"{source}: y_train has {what}; classification needs labeled examples of at least two classes")
    codes = np.full(len(y_train), UNLABELED, dtype=np.int64)
    codes[~unl] = np.searchsorted(classes, labeled)
    if y_test is None:
        return codes, None, classes
    if y_test.dtype.kind == "f" and np.all(np.isfinite(y_test)) and np.all(y_test == np.round(y_test)):
        y_test = y_test.astype(np.int64)
    known = np.isin(y_test, classes)
    if not known.all():
        unknown = sorted({str(v) for v in y_test[~known]})[:5]
        raise SSVAEError(
            f"{source}: y_test has labels {', '.join(unknown)} that no labeled y_train example has; "
            f"the classes are {', '.join(map(str, classes[:10]))}{' ...' if len(classes) > 10 else ''}"
        )
    return codes, np.searchsorted(classes, y_test).astype(np.int64), classes


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
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    for y, x, what in ((y_train, xtr, "y_train"), (y_test, xte, "y_test")):
        if y.ndim != 1 or len(y) != len(x):
            raise SSVAEError(f"{source}: {what} has shape {tuple(y.shape)}; expected [{len(x)}], one label per image")
    if is_unlabeled(y_test).any():
        raise SSVAEError(f"{source}: y_test marks examples unlabeled (-1); every test example needs its label")
    ytr, yte, classes = encode_labels(y_train, y_test, source)
    return Dataset(name, xtr, ytr, xte, yte, shape, len(classes), classes)


# --------------------------------------------------------------------------------------------------------
# Sources


def default_data_dir() -> Path:
    """Where named data sets are looked for and downloaded: `$SSVAE_DATA`, else `~/.cache/ssvae`."""
    return Path(os.environ.get("SSVAE_DATA", Path.home() / ".cache" / "ssvae"))


def load_npz(path: str | os.PathLike, name: str | None = None) -> Dataset:
    """A user's .npz (x_train, y_train, x_test, y_test) as a `Dataset`, every array checked first."""
    path = Path(path)
    if not path.is_file():
        raise SSVAEError(f"{path}: no such file; give an existing .npz with x_train, y_train, x_test, y_test")
    with open(path, "rb") as f:
        head = f.read(4)
        if head == b"PK\x05\x06":  # a zip archive with nothing in it: numpy.savez() of no arrays
            raise SSVAEError(f"{path}: holds no arrays; an ssvae .npz needs {', '.join(NPZ_KEYS)}")
        if head != b"PK\x03\x04":  # every .npz is a zip archive
            raise SSVAEError(f"{path}: not an .npz archive (not a zip file); write it with numpy.savez")
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
                    f"{cls_name} not found under {root} ({' '.join(str(e).split())[:160]}); pass --data-dir with "
                    "<name>.npz, or allow the download"
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


# Class names of the named data sets, in label order: torchvision's own lists (CIFAR-10's are read from its archive
# by torchvision, so they are written out here, in the archive's order). Sets whose classes are the digits keep them.
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _torchvision_classes(cls_name: str) -> Callable[[], list[str]]:
    def names() -> list[str]:
        import torchvision.datasets as tvd

        return list(getattr(tvd, cls_name).classes)

    return names


CLASS_NAMES: dict[str, Callable[[], list[str]]] = {
    "mnist": _torchvision_classes("MNIST"),
    "fashion-mnist": _torchvision_classes("FashionMNIST"),
    "kmnist": _torchvision_classes("KMNIST"),
    "cifar10": lambda: list(CIFAR10_CLASSES),
}


def with_class_names(ds: Dataset, name: str) -> Dataset:
    """A named data set with its classes' names in place of the codes (tables, legends, predictions show them)."""
    names = CLASS_NAMES[name]() if name in CLASS_NAMES else None
    if names is None or len(names) != ds.num_classes:
        return ds
    return dataclasses.replace(ds, classes=np.asarray(names))
