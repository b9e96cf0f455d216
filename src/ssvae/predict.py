"""`ssvae predict`: a saved model (or a run directory's kept model) applied to an array file or a folder of
images, written as one CSV row per input."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from .errors import SSVAEError
from .files import replace_atomically

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
NPZ_ARRAYS = ("x", "X", "x_test")


def read_array(path: Path) -> np.ndarray:
    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False)
        with np.load(path, allow_pickle=False) as f:
            names = [k for k in NPZ_ARRAYS if k in f.files] or (f.files if len(f.files) == 1 else [])
            if not names:
                raise SSVAEError(f"{path}: holds {', '.join(f.files)}; name the inputs x (or x_test)")
            return f[names[0]]
    except SSVAEError:
        raise
    except Exception as e:
        raise SSVAEError(f"{path}: cannot be read as {path.suffix} ({type(e).__name__}: {e})") from e


def read_images(folder: Path, input_shape: tuple[int, ...]) -> tuple[np.ndarray, list[str]]:
    """Images converted as at training: grayscale for [H, W] models (ITU-R 601-2 luma), RGB for [H, W, 3]."""
    from PIL import Image, UnidentifiedImageError

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SSVAEError(f"{folder}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    if len(input_shape) == 2:
        mode = "L"
    elif len(input_shape) == 3 and input_shape[2] in (3, 4):
        mode = "RGB" if input_shape[2] == 3 else "RGBA"
    else:
        raise SSVAEError(
            f"this model takes feature vectors of shape {tuple(input_shape)}, not images; give an .npy or .npz"
        )
    h, w = input_shape[:2]
    out = []
    for p in files:
        try:
            with Image.open(p) as im:
                if im.size != (w, h):
                    raise SSVAEError(
                        f"{p}: is {im.size[0]}x{im.size[1]} pixels but the model takes {w}x{h}; resize the images"
                    )
                out.append(np.asarray(im.convert(mode), dtype=np.uint8))
        except (UnidentifiedImageError, OSError) as e:
            raise SSVAEError(f"{p}: not a readable image ({e})") from e
    return np.stack(out), [p.name for p in files]


def predict_to_csv(model_path: str, input_path: str, out: str, device: str = "auto") -> int:
    from .estimator import SemiSupervisedClassifier

    est = SemiSupervisedClassifier.load(model_path, device=device)
    src = Path(input_path)
    if src.is_dir():
        x, ids = read_images(src, est.preprocessing_.input_shape)
    elif src.is_file():
        x = read_array(src)
        ids = [str(i) for i in range(len(x))]
    else:
        raise SSVAEError(f"{src}: no such file or folder")
    shape = tuple(est.preprocessing_.input_shape)
    if x.ndim < 2 or int(np.prod(x.shape[1:])) != est.n_features_in_:
        raise SSVAEError(
            f"{src}: inputs of shape {tuple(x.shape[1:])} do not fit the model, which takes {shape} "
            f"({est.n_features_in_} values per example)"
        )
    try:
        proba = est.predict_proba(x)
    except ValueError as e:
        raise SSVAEError(f"{src}: {e}") from e
    pred = est.classes_[proba.argmax(1)]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["id", "predicted", *[f"p_{c}" for c in est.classes_]])
    for i, row in enumerate(proba):
        writer.writerow([ids[i], pred[i], *[f"{p:.6g}" for p in row]])
    replace_atomically(Path(out), lambda f: f.write(buf.getvalue().encode()), fix="choose another --out")
    return len(proba)
