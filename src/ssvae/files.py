"""Files written atomically and read with a clear message when damaged: the one writer everything uses.

Every write goes to a uniquely named temporary file in the same folder, is fsynced, then renamed over the
target, so an interrupted or failed write leaves the previous file intact and no temporary file behind. Run
directories, saved models, predictions and the baselines' records all write through `replace_atomically`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from .errors import SSVAEError

RESUME_HINT = "free some space (or fix the permissions) and rerun the same command: it resumes from the last checkpoint"


def write_error(path: Path, e: OSError, fix: str = RESUME_HINT) -> SSVAEError:
    """One line for a failed write: what, where, that nothing was lost, and what to do."""
    why = "no space left on the device" if e.errno == errno.ENOSPC else (e.strerror or type(e).__name__)
    return SSVAEError(f"cannot write {path} ({why}); the previous version is intact; {fix}")


def replace_atomically(path: str | os.PathLike, write: Callable[[Any], None], fix: str = RESUME_HINT) -> None:
    """write(binary file) into a unique temporary beside `path`, fsync, rename over `path`; clean up on failure."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise write_error(path, e, fix) from e
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise write_error(path, e, fix) from e
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def check_writable_folder(path: str | os.PathLike, what: str) -> None:
    """Refuse in one line, before anything is written, a folder a run will write into but cannot: by creating it
    and a file in it (root ignores permission bits, so only trying tells), then removing all the probe made."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SSVAEError(f"{what} {path} is an existing file, not a folder; give the name of a new or existing folder")
    created = [p for p in [path, *path.parents] if not p.exists()]
    try:
        try:
            path.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=path, prefix=".ssvae-probe-")
            os.close(fd)
            os.unlink(probe)
        finally:
            for p in created:  # deepest first
                with contextlib.suppress(OSError):
                    p.rmdir()
    except OSError as e:
        why = e.strerror or type(e).__name__
        raise SSVAEError(f"cannot write into {what} {path} ({why}); choose another folder") from e


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """torch.save, atomically: the file is the old one or the new one, never half written."""
    replace_atomically(path, lambda f: torch.save(state, f))


def load_checkpoint(path: str | os.PathLike, device: torch.device | str = "cpu", fix: str | None = None) -> dict:
    """A checkpoint's state (tensors and plain data only: a pickle with code in it is refused, never run)."""
    import warnings

    path = Path(path)
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickle protocols before refusing them
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=device, weights_only=True)
        if not isinstance(state, dict) or "model" not in state:
            raise ValueError("it holds no model state")
        return state
    except FileNotFoundError:
        raise
    except Exception as e:  # truncated, empty, random bytes, foreign or malicious pickle: torch raises many kinds
        hint = fix or f"rerun `ssvae train` with the same flags and --restart to train {path.parent} again"
        raise SSVAEError(f"{path} is damaged and cannot be read ({damage(path, e)}); {hint}") from e


def damage(path: Path, e: Exception) -> str:
    """What is wrong with a checkpoint that torch could not load, in words."""
    if "Unsupported global" in str(e):
        return "it holds code or objects other than tensors and numbers, which are never unpickled"
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        return "the file is empty"
    if head == b"PK\x03\x04":
        return "its archive is cut short or corrupt"
    if isinstance(e, ValueError):
        return str(e)
    return "it is not a PyTorch checkpoint"


def standard(obj: Any) -> Any:
    """obj with every NaN or infinite float as None (JSON's null): standard JSON, which strict readers accept."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: standard(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [standard(v) for v in obj]
    return obj


def json_text(obj: Any, indent: int | None = None) -> str:
    """Standard JSON only (`standard`): json.dumps would write NaN and Infinity, which are not JSON."""
    return json.dumps(standard(obj), indent=indent, allow_nan=False)


def save_json(path: str | os.PathLike, obj: Any) -> None:
    """JSON, atomically, NaN refused."""
    replace_atomically(path, lambda f: f.write((json_text(obj, indent=2) + "\n").encode()))


# A JSON file's expected shape: the fields its top-level object must hold, each with its type (or types).
Shape = dict[str, "type | tuple[type, ...]"]
RESTORE = "restore it or start the run over"
KINDS = {dict: "an object", list: "a list", str: "a string", int: "a whole number", float: "a number", bool: "a bool"}


def kind_of(value: Any) -> str:
    """What a JSON value is, in words."""
    return "null" if value is None else KINDS.get(type(value), type(value).__name__)


def check_shape(obj: Any, shape: Shape, where: str | os.PathLike, fix: str) -> Any:
    """`obj` as `shape` says (an object holding each field with its type; an int is a number, a bool is not), or one
    line naming the file and the first field that is wrong."""
    if not isinstance(obj, dict):
        raise SSVAEError(f"{where} is damaged: it holds {kind_of(obj)} where an object belongs; {fix}")
    for field, types in shape.items():
        types = types if isinstance(types, tuple) else (types,)
        if float in types:
            types = (*types, int)
        if field not in obj:
            raise SSVAEError(f"{where} is damaged: it has no {field!r}; {fix}")
        value = obj[field]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            named = [t for t in dict.fromkeys(types) if not (t is int and float in types)]  # a number covers ints
            must = " or ".join(KINDS.get(t, t.__name__) for t in named)
            raise SSVAEError(f"{where} is damaged: {field} must be {must}, got {kind_of(value)}; {fix}")
    return obj


def read_json(path: str | os.PathLike, shape: Shape | None = None, fix: str = RESTORE) -> Any:
    """The one reader of the JSON files ssvae wrote and reads again: parsed, and checked against `shape` (declared
    beside each file's name) when given; a damaged or misshapen file is named in one line that ends in `fix`."""
    try:
        with open(path) as f:
            obj = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SSVAEError(f"{path} is damaged ({type(e).__name__}: {e}); {fix}") from e
    return obj if shape is None else check_shape(obj, shape, path, fix)


HISTORY_ROW: Shape = {"epoch": int}  # each line of a history (a run's metrics.jsonl, a stage's)


def read_history(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The per-epoch rows; a last line cut off by a crash mid-append is dropped (its epoch is redone)."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path) as f:
        lines = [line for line in f if line.strip()]
    rows, fix = [], "start the run over with --restart"
    for i, line in enumerate(lines):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            if i == len(lines) - 1:
                break
            raise SSVAEError(f"{path} line {i + 1} is damaged ({e}); {fix}") from e
        rows.append(check_shape(row, HISTORY_ROW, f"{path} line {i + 1}", fix))
    return rows


def write_history(path: str | os.PathLike, rows: list[dict[str, Any]]) -> None:
    """Rewrite the history with `rows`: a resumed run drops the lines written after its checkpoint, so that it
    logs each epoch once."""
    replace_atomically(Path(path), lambda f: f.write("".join(json_text(r) + "\n" for r in rows).encode()))


def append_history(path: str | os.PathLike, row: dict[str, Any]) -> None:
    """One row appended to a metrics.jsonl, flushed to disk; a full disk is one line."""
    line = (json_text(row) + "\n").encode()
    try:
        with open(path, "ab") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise write_error(Path(path), e) from e
