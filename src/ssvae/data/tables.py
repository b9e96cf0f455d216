"""A CSV or Parquet table as a data set, through pandas: one column holds the labels (an empty cell marks an
unlabeled row, as does -1, scikit-learn's mark), an optional id column names the rows, and every other column is a
feature: numbers as they are (standardised later, as the estimator does for tables), text one-hot encoded over the
values the training rows hold (`TableSchema`: a value seen only later encodes as all zeros).

The same schema turns the table `ssvae predict` is given into the model's features, by column name.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SSVAEError

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": ",", ".parquet": None}
TABLE_LIKELIHOOD = "gaussian"  # standardised columns: the estimator's likelihood="auto" for anything not in [0, 1]
MAX_LEVELS = 50  # a text column with more distinct values is an identifier or free text, not a category
MEMORY_PER_BYTE = {".parquet": 12.0}  # bytes in memory per byte on disk (parquet is compressed); text: below
TEXT_MEMORY_PER_BYTE = 6.0  # a number of a few characters becomes 8 bytes, plus pandas' own copy while parsing


def is_table(name: str | os.PathLike) -> bool:
    """Whether a --dataset (or a predict input) names a table, by its suffix."""
    return Path(name).suffix.lower() in TABLE_SUFFIXES


def available_memory() -> int:
    """Bytes of memory free for new allocations (Linux: MemAvailable; elsewhere the physical memory)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def read_table(path: str | os.PathLike):
    """The table as a pandas DataFrame, after checking that it is there and that it should fit in memory."""
    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise SSVAEError(f"{path}: no such file; give an existing {', '.join(TABLE_SUFFIXES)} table")
    need = path.stat().st_size * MEMORY_PER_BYTE.get(suffix, TEXT_MEMORY_PER_BYTE)
    free = available_memory()
    if need > free:
        raise SSVAEError(
            f"{path}: {path.stat().st_size / 2**30:.1f} GiB on disk would take about {need / 2**30:.1f} GiB in "
            f"memory, more than the {free / 2**30:.1f} GiB free; train on a sample of its rows"
        )
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, sep=TABLE_SUFFIXES[suffix], skipinitialspace=True)
    except ImportError as e:
        raise SSVAEError(f"{path}: reading Parquet needs pyarrow: pip install 'ssvae[parquet]'") from e
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise SSVAEError(f"{path}: cannot be read as a table ({str(e).splitlines()[0][:160]})") from e


def unlabeled_cells(labels) -> np.ndarray:
    """Where a label column marks a row unlabeled: an empty cell (NaN, None, blank text) or -1."""
    empty = labels.isna().to_numpy()
    text = labels.astype(str).str.strip()
    return empty | (text == "").to_numpy() | text.isin(["-1", "-1.0"]).to_numpy()


def label_array(labels, unlabeled: np.ndarray) -> np.ndarray:
    """The label column as integers (when every label is a whole number) or as text, -1 ("-1") where unlabeled."""
    import pandas as pd

    given = labels[~unlabeled]
    numeric = pd.to_numeric(given, errors="coerce")
    if numeric.notna().all() and (numeric == numeric.round()).all():
        out = np.full(len(labels), -1, dtype=np.int64)
        out[~unlabeled] = numeric.astype(np.int64).to_numpy()
        return out
    out = np.full(len(labels), "-1", dtype=object)
    out[~unlabeled] = given.astype(str).str.strip().to_numpy()
    return out.astype(str)


@dataclass
class TableSchema:
    """How a table's columns become the model's features: the feature columns in order, the levels of each text
    column (one-hot), and the label and id columns that are not features."""

    label_column: str
    id_column: str | None
    columns: list[str]
    levels: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, frame, path: Path, label_column: str | None, id_column: str | None) -> "TableSchema":
        names = [str(c) for c in frame.columns]
        listed = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
        if label_column is None:
            raise SSVAEError(
                f"{path}: give --label-column, the column that holds the labels (an empty cell: unlabeled); "
                f"its columns are {listed}"
            )
        for flag, col in (("--label-column", label_column), ("--id-column", id_column)):
            if col is not None and col not in names:
                raise SSVAEError(f"{path}: has no column {col!r} ({flag}); its columns are {listed}")
        columns = [c for c in names if c not in (label_column, id_column)]
        if not columns:
            raise SSVAEError(f"{path}: has no feature columns besides {label_column!r}; add the features")
        frame = frame.rename(columns=str)
        levels = {}
        for c in columns:
            col = frame[c]
            if col.dtype.kind in "biuf":
                continue
            values = sorted({str(v).strip() for v in col.dropna()} - {""})
            if len(values) > MAX_LEVELS:
                raise SSVAEError(
                    f"{path}: column {c!r} is text with {len(values)} distinct values, too many to one-hot encode "
                    f"(at most {MAX_LEVELS}); give it as --id-column, or drop it"
                )
            levels[c] = values
        return cls(label_column, id_column, columns, levels)

    def features(self, frame, path: Path) -> np.ndarray:
        """[N, D] float64: numeric columns as they are, text columns one-hot over the schema's levels."""
        frame = frame.rename(columns=str)
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise SSVAEError(f"{path}: lacks the column(s) {', '.join(missing[:8])} the model was trained on")
        parts = []
        for c in self.columns:
            col = frame[c]
            if c in self.levels:
                text = col.astype(str).str.strip().to_numpy()
                parts.append((text[:, None] == np.asarray(self.levels[c], dtype=object)[None, :]).astype(np.float64))
                continue
            if col.dtype.kind not in "biuf":
                raise SSVAEError(f"{path}: column {c!r} holds text, but the model was trained on numbers there")
            values = col.to_numpy(dtype=np.float64)
            bad = ~np.isfinite(values)
            if bad.any():
                raise SSVAEError(
                    f"{path}: column {c!r} has {int(bad.sum())} empty or non-finite cell(s), the first in row "
                    f"{int(np.flatnonzero(bad)[0])}; fill them or drop those rows"
                )
            parts.append(values[:, None])
        return np.concatenate(parts, axis=1)

    def ids(self, frame) -> tuple[str, list[str]]:
        """The id column's name and values, or 'row' and the row numbers (from 0) when there is none."""
        if self.id_column is not None and self.id_column in frame.columns.astype(str):
            return self.id_column, frame.rename(columns=str)[self.id_column].astype(str).tolist()
        return "row", [str(i) for i in range(len(frame))]

    def to_json(self) -> dict[str, Any]:
        return {"kind": "table", **asdict(self)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "TableSchema":
        return cls(d["label_column"], d.get("id_column"), list(d["columns"]), dict(d.get("levels", {})))


def load_table(path: str | os.PathLike, label_column: str | None = None, id_column: str | None = None) -> dict:
    """The table's features ([N, D] float64, not yet standardised), its labels (-1 where unlabeled) and its schema."""
    path = Path(path)
    frame = read_table(path)
    if len(frame) == 0:
        raise SSVAEError(f"{path}: has no rows")
    schema = TableSchema.of(frame, path, label_column, id_column)
    labels = frame.rename(columns=str)[schema.label_column]
    unlabeled = unlabeled_cells(labels)
    if unlabeled.all():
        raise SSVAEError(f"{path}: column {schema.label_column!r} is empty in every row; label some rows")
    return dict(x=schema.features(frame, path), y=label_array(labels, unlabeled), schema=schema)
