"""`load_dataset`: a data set by name, or the user's own files as they hold them (an .npz of arrays, a folder of
images, a CSV or Parquet table), each checked once and given a test split."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import SSVAEError
from .image_folders import load_image_folder
from .preprocess import Preprocessing
from .sources import (
    NPZ_KEYS,
    SOURCES,
    Dataset,
    default_data_dir,
    encode_labels,
    load_npz,
    validate_arrays,
    with_class_names,
)
from .splits import held_out_words, hold_out_test
from .tables import TABLE_SUFFIXES, is_table, load_table


def load_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    *,
    label_column: str | None = None,
    id_column: str | None = None,
    image_size: str | None = None,
    grayscale: bool = False,
    skip_unreadable: bool = False,
    seed: int = 0,
) -> Dataset:
    """A data set by name or path.

    Parameters
    ----------
    name : str
        "digits" (bundled), "mnist", "fashion-mnist", "kmnist", "cifar10", "svhn"; a path to an .npz holding
        `x_train, y_train, x_test, y_test`; a folder of images (a folder per class, `unlabeled/`, optionally
        `test/`); or a CSV, TSV or Parquet table.
    data_dir : str or PathLike, optional
        Where named sets are looked for and downloaded: default `$SSVAE_DATA`, else `~/.cache/ssvae`.
    download : bool
        Let torchvision download a named set that is not there.
    label_column, id_column : str, optional
        A table's label column (an empty cell: unlabeled) and the column that names its rows (not a feature).
    image_size : str, optional
        "WxH": a folder's images are resized to it (needed when they come in several sizes).
    grayscale : bool
        Convert a folder's colour images to one channel.
    skip_unreadable : bool
        Leave out the files of a folder that are not readable images (one warning), instead of refusing.
    seed : int
        Draws the test split held out of the labeled rows of a folder without `test/`, or of a table.

    Returns
    -------
    Dataset
    """
    path = Path(name)
    if path.is_dir():
        return _own_images(path, image_size, grayscale, skip_unreadable, seed)
    if is_table(name):
        return _own_table(path, label_column, id_column, seed)
    if name.endswith(".npz") or path.is_file():
        return load_npz(name)
    if name not in SOURCES:
        raise SSVAEError(
            f"unknown dataset '{name}'; known: {', '.join(SOURCES)}, a folder of images, a table "
            f"({', '.join(TABLE_SUFFIXES)}), or an .npz with {', '.join(NPZ_KEYS)}"
        )
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    if data_dir is not None and name != "digits" and not root.is_dir():
        raise SSVAEError(
            f"--data-dir {root} is not a folder; create it (data sets are downloaded into it) or give the folder "
            f"that holds {name}.npz"
        )
    for stem in (name, name.replace("-", "_"), name.replace("-", "")):
        if (root / f"{stem}.npz").is_file():
            return with_class_names(load_npz(root / f"{stem}.npz", name), name)
    return with_class_names(validate_arrays(name, **SOURCES[name](root, download), source=name), name)


def _own_images(path: Path, image_size: str | None, grayscale: bool, skip: bool, seed: int) -> Dataset:
    """A folder of images: its test/ folder, or a test split held out of its labeled images by the seed."""
    got = load_image_folder(path, image_size, grayscale, skip)
    x, origin = got["x_train"], None
    if got["x_test"] is not None:
        codes, test_codes, classes = encode_labels(got["y_train"], got["y_test"].astype(str), str(path))
        x_test = got["x_test"]
    else:
        codes, _, classes = encode_labels(got["y_train"], None, str(path))
        keep, test = hold_out_test(codes, seed, str(path), classes)
        x, codes, x_test, test_codes = x[keep], codes[keep], x[test], codes[test]
        origin = held_out_words(len(test), seed)
    shape = tuple(int(s) for s in x.shape[1:])  # (H, W) or (H, W, 3)
    pre = Preprocessing("unit", shape, source=got["source"])
    flat = [a.reshape(len(a), -1) for a in (x, x_test)]
    return Dataset(path.name, flat[0], codes, flat[1], test_codes, shape, len(classes), classes, pre.to_json(), origin)


def _own_table(path: Path, label_column: str | None, id_column: str | None, seed: int) -> Dataset:
    """A table: a test split held out of its labeled rows by the seed; its features standardised on the rest."""
    got = load_table(path, label_column, id_column)
    codes, _, classes = encode_labels(got["y"], None, str(path))
    keep, test = hold_out_test(codes, seed, str(path), classes)
    x = got["x"]
    pre = Preprocessing.fit(x[keep], "gaussian")
    pre.source = got["schema"].to_json()
    xp = pre.transform(x)
    return Dataset(
        path.stem,
        xp[keep],
        codes[keep],
        xp[test],
        codes[test],
        (1, xp.shape[1]),
        len(classes),
        classes,
        pre.to_json(),
        held_out_words(len(test), seed),
    )
