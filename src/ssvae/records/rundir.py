"""A run directory: the names of its files (declared here and nowhere else), its lock, and its records.

One process at a time may train into a run directory (`RunLock`, an OS lock that dies with its process).
Every file is written through `ssvae.files` (atomic: temporary, fsync, rename).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from ..errors import SSVAEError
from ..files import (  # noqa: F401 (read_history, read_json, save_json, load_checkpoint: the run's records)
    append_history,
    load_checkpoint,
    read_history,
    read_json,
    save_checkpoint,
    save_json,
    write_history,
)

CONFIG = "config.json"
SPLIT = "split.npz"
HISTORY = "metrics.jsonl"
LAST = "last.pt"
BEST = "best.pt"
METRICS = "metrics.json"
LOCK = ".lock"
# what `ssvae train --restart` removes: everything a run writes, nothing else a user may keep there
RUN_FILES = (CONFIG, SPLIT, HISTORY, LAST, BEST, METRICS)
# the shapes of its JSON files, checked by the one reader (`ssvae.files.read_json`)
CONFIG_SHAPE = {"config": dict}  # the run's settings; written with its model's (RUN_SHAPE)
RUN_SHAPE = {"config": dict, "model_config": dict, "derived": dict}  # what rebuilds its model and reads its data
METRICS_SHAPE = {"epochs": int}  # its test numbers (`ssvae evaluate`)
MODEL_BEST, MODEL_LAST = "model-best", "model-last"  # the kept and the last model, exported (ssvae.records.saved)
FEATURE_STAGE = "features"  # stage 1 of a featurized run (ssvae.training.stage1: its files)
RUN_FOLDERS = (MODEL_BEST, MODEL_LAST, FEATURE_STAGE)


def check_run_dir_path(out: Path) -> None:
    """Say in one line, before anything is written, why `out` cannot be a run directory."""
    if out.exists() and not out.is_dir():
        raise SSVAEError(f"--out {out} is an existing file, not a folder; give the name of a new or existing folder")
    parent = next((p for p in [out, *out.parents] if p.exists()), None)
    if parent is not None and (not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK)):
        raise SSVAEError(f"cannot create the run directory {out}: {parent} is not writable; choose another --out")


def make_run_dir(out: Path) -> None:
    """Create a run directory (and its parents), or say in one line why it cannot be."""
    check_run_dir_path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SSVAEError(f"cannot create the run directory {out} ({e.strerror}); choose another --out") from e


class RunLock:
    """An exclusive OS lock on OUT/.lock, held while one process trains into OUT. The OS releases it when the
    process dies (kill -9 included), so a crashed run never leaves a stale lock behind. `wait`: block until the
    holder lets go (a shared feature stage another run is training) instead of refusing."""

    def __init__(self, out: Path, wait: bool = False):
        self.path = Path(out) / LOCK
        try:
            import fcntl
        except ImportError:  # no POSIX locks (Windows): run unguarded rather than not at all
            self.file = None
            return
        try:
            self.file = open(self.path, "a+")
        except OSError as e:
            raise SSVAEError(f"cannot lock {self.path} ({e.strerror}); choose another --out") from e
        try:
            fcntl.flock(self.file.fileno(), fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.file.seek(0)
            holder = self.file.read().strip() or "unknown"
            self.file.close()
            raise SSVAEError(
                f"{out} is being trained by another process (PID {holder}); wait for it to finish, or stop it, "
                "before writing to this run directory"
            ) from None
        self.file.seek(0)
        self.file.truncate()
        self.file.write(str(os.getpid()))
        self.file.flush()

    def release(self) -> None:
        if self.file is not None and not self.file.closed:
            self.file.close()  # closing drops the lock

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def clear_run(out: Path) -> None:
    """`--restart`: remove what a run wrote into `out` (under its lock), so that it trains from scratch."""
    import shutil

    if not out.is_dir():
        return
    with RunLock(out):
        for name in RUN_FILES:
            with contextlib.suppress(FileNotFoundError):
                (out / name).unlink()
        for name in RUN_FOLDERS:
            shutil.rmtree(out / name, ignore_errors=True)


def variant_name(model: str, mier: bool) -> str:
    """A model's folder name: m2, m2-mier, classifier, ..."""
    return f"{model}{'-mier' if mier else ''}"


def run_name(dataset: str, model: str, mier: bool, labels: int, seed: int, extra: str = "") -> str:
    """Where a grid's run lives under OUT/runs: <dataset>/<model>[-mier]/n<labels>[/<extra>]/seed<S> (the same for
    reproduce, sweeps and the scikit-learn baselines, so that `ssvae report` pairs them)."""
    head = f"{Path(dataset).stem}/{variant_name(model, mier)}/n{labels}"
    return f"{head}/{extra}/seed{seed}" if extra else f"{head}/seed{seed}"


def epochs_done(run: Path, wanted: int) -> int:
    """Epochs a run directory has logged (its metrics.json once evaluated, else its history), at most `wanted`."""
    if (run / METRICS).exists():
        return min(wanted, read_json(run / METRICS, METRICS_SHAPE)["epochs"])
    history = read_history(run / HISTORY)
    return min(wanted, history[-1]["epoch"]) if history else 0


class RunDir:
    """One run's folder while it trains: opened (created, locked) once, then its records written as they come."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.lock: RunLock | None = None

    def recorded_config(self) -> dict[str, Any]:
        """The settings of the run already here ({} when there is none)."""
        path = self.path / CONFIG
        return read_json(path, CONFIG_SHAPE, "start the run over with --restart")["config"] if path.is_file() else {}

    def has_checkpoint(self) -> bool:
        return (self.path / LAST).exists()

    def load_last(self, device) -> dict[str, Any]:
        return load_checkpoint(self.path / LAST, device)

    def read_history(self, upto: int) -> list[dict[str, Any]]:
        return [r for r in read_history(self.path / HISTORY) if r["epoch"] <= upto]

    def open(self, split, config: dict[str, Any], history: list[dict[str, Any]]) -> None:
        """Create and lock the folder, then write the split (once), config.json, and the history up to the
        checkpoint (dropping epochs logged after it). Refusals happen before anything is written."""
        make_run_dir(self.path)
        self.lock = RunLock(self.path)
        try:
            if not (self.path / SPLIT).exists():
                split.save(self.path / SPLIT)
            save_json(self.path / CONFIG, config)
            write_history(self.path / HISTORY, history)
        except BaseException:
            self.close()
            raise

    def forget_unstarted(self) -> None:
        """Take back what `open` wrote when the run never reached a checkpoint (it diverged in its first epochs),
        so that the corrected command starts afresh instead of being refused as a run with other settings."""
        if (self.path / LAST).exists():
            return
        self.close()
        for name in (SPLIT, CONFIG, HISTORY, LOCK):
            (self.path / name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.path.rmdir()  # only if nothing else (a trained feature stage) is in it

    def append(self, row: dict[str, Any]) -> None:
        append_history(self.path / HISTORY, row)

    def save_last(self, state: dict[str, Any]) -> None:
        save_checkpoint(self.path / LAST, state)

    def save_best(self, state: dict[str, Any]) -> None:
        save_checkpoint(self.path / BEST, state)

    def close(self) -> None:
        """Release the lock (also released by the OS if the process dies)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None
