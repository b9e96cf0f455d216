"""`ssvae predict`: a saved model (or a run directory's kept model) applied to an array file or a folder of
images, written as one CSV row per input."""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path

import numpy as np

from .errors import SSVAEError
from .files import replace_atomically

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
NPZ_ARRAYS = ("x", "X", "x_test")


def read_array(path: Path) -> np.ndarray:
    """The inputs of an .npy, or of an .npz's array x (x_test, or its only array), as numbers."""
    try:
        if path.suffix == ".npy":
            x = np.load(path, allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as f:
                names = [k for k in NPZ_ARRAYS if k in f.files] or (f.files if len(f.files) == 1 else [])
                if not names:
                    held = ", ".join(f.files) or "no arrays"
                    raise SSVAEError(f"{path}: holds {held}; name the inputs x (or x_test)")
                x = f[names[0]]
    except SSVAEError:
        raise
    except Exception as e:  # numpy's own words ("allow_pickle", zip internals) would mislead: say what it is not
        kind = "an .npy array" if path.suffix == ".npy" else "an .npz archive of arrays"
        raise SSVAEError(f"{path}: not {kind} that numpy can read without pickle; write it with numpy.save(z)") from e
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating) or x.dtype == bool):
        raise SSVAEError(f"{path}: holds {x.dtype} values; the model takes real numbers (integers or floats)")
    return x


def read_images(folder: Path, input_shape: tuple[int, ...]) -> tuple[np.ndarray, list[str]]:
    """Images converted as at training: grayscale for [H, W] models (ITU-R 601-2 luma), RGB for [H, W, 3]."""

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
    out = [open_image(p, w, h, mode) for p in files]
    return np.stack(out), [p.name for p in files]


def open_image(p: Path, w: int, h: int, mode: str) -> np.ndarray:
    """One image of exactly the model's w x h pixels, as uint8. PIL is held to that many pixels (its own limit,
    for any image, is about 179 million): a larger header is refused before anything is decoded, and PIL's
    decompression-bomb warning becomes this one line instead of leaking out beside it."""
    from PIL import Image, UnidentifiedImageError

    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, w * h
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as im:
                if im.size != (w, h):
                    raise SSVAEError(
                        f"{p}: is {im.size[0]}x{im.size[1]} pixels but the model takes {w}x{h}; resize the images"
                    )
                return np.asarray(im.convert(mode), dtype=np.uint8)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise SSVAEError(f"{p}: has more than the {w}x{h} pixels the model takes; resize the images") from e
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise SSVAEError(
            f"{p}: not a readable image ({str(e).splitlines()[0][:120] if str(e) else type(e).__name__})"
        ) from e
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def predict_to_csv(model_path: str, input_path: str, out: str, device: str = "auto") -> int:
    """Predictions of a saved model (or a run directory) for an .npy, an .npz or a folder of images, as CSV;
    returns the number of rows written."""
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
