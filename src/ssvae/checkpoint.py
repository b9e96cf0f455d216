"""Run-directory files: written atomically so an interrupted run never leaves a half-written file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

CONFIG = "config.json"
SPLIT = "split.npz"
HISTORY = "metrics.jsonl"
LAST = "last.pt"
BEST = "best.pt"
METRICS = "metrics.json"


def _replace_atomically(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    _replace_atomically(Path(path), lambda f: torch.save(state, f))


def load_checkpoint(path: str | os.PathLike, device: torch.device | str = "cpu") -> dict[str, Any]:
    return torch.load(path, map_location=device, weights_only=True)


def save_json(path: str | os.PathLike, obj: Any) -> None:
    _replace_atomically(Path(path), lambda f: f.write((json.dumps(obj, indent=2) + "\n").encode()))


def load_json(path: str | os.PathLike) -> Any:
    with open(path) as f:
        return json.load(f)


def read_history(path: str | os.PathLike) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def truncate_history(path: str | os.PathLike, last_epoch: int) -> None:
    """Drop lines written after the checkpoint we resume from, so a resumed run logs each epoch once."""
    rows = [r for r in read_history(path) if r["epoch"] <= last_epoch]
    _replace_atomically(Path(path), lambda f: f.write("".join(json.dumps(r) + "\n" for r in rows).encode()))


def append_history(path: str | os.PathLike, row: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")
