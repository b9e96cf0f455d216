"""`ssvae predict`: a saved model (or a run directory's kept model) applied to an array file, a folder of images
or a table, written as one CSV row per input."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from .data.image_folders import IMAGE_SUFFIXES, open_image
from .data.preprocess import Preprocessing
from .data.tables import TableSchema, is_table, read_table
from .errors import SSVAEError
from .files import replace_atomically

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


def read_images(folder: Path, pre: Preprocessing) -> tuple[np.ndarray, list[str]]:
    """Images converted as at training (`ssvae.data.image_folders.open_image`): grayscale for [H, W] models
    (ITU-R 601-2 luma), RGB for [H, W, 3]; resized to the model's size when it was trained on a folder of images,
    refused when they are of another size otherwise."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SSVAEError(f"{folder}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    shape = pre.input_shape
    if len(shape) == 2:
        mode = "L"
    elif len(shape) == 3 and shape[2] in (3, 4):
        mode = "RGB" if shape[2] == 3 else "RGBA"
    else:
        raise SSVAEError(f"this model takes feature vectors of shape {tuple(shape)}, not images; give an .npy or .npz")
    resize = bool((pre.source or {}).get("resize"))
    h, w = shape[:2]
    return np.stack([open_image(p, w, h, mode, resize) for p in files]), [p.name for p in files]


def read_rows(src: Path, pre: Preprocessing) -> tuple[np.ndarray, list[str], str]:
    """A table's rows as the model's features (by its training table's schema), their ids and the id column's name."""
    source = pre.source or {}
    if source.get("kind") != "table":
        raise SSVAEError(f"{src}: a table, but this model was not trained on one; give an .npy, .npz or images")
    schema = TableSchema.from_json(source)
    frame = read_table(src)
    name, ids = schema.ids(frame)
    return schema.features(frame, src), ids, name


def predict_to_csv(model_path: str, input_path: str, out: str, device: str = "auto") -> int:
    """Predictions of a saved model (or a run directory) for an .npy, an .npz or a folder of images, as CSV;
    returns the number of rows written."""
    from .estimator import SemiSupervisedClassifier

    est = SemiSupervisedClassifier.load(model_path, device=device)
    src, id_name = Path(input_path), "id"
    if src.is_dir():
        x, ids = read_images(src, est.preprocessing_)
    elif src.is_file() and is_table(src):
        x, ids, id_name = read_rows(src, est.preprocessing_)
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
    writer.writerow([id_name, "predicted", *[f"p_{c}" for c in est.classes_]])
    for i, row in enumerate(proba):
        writer.writerow([ids[i], pred[i], *[f"{p:.6g}" for p in row]])
    replace_atomically(Path(out), lambda f: f.write(buf.getvalue().encode()), fix="choose another --out")
    return len(proba)
