"""How long `ssvae train --dataset FOLDER/` takes to read a folder of 60,000 images (issue 46: at most a minute on
2 cores). Fashion-MNIST's training images are written once as PNG files into OUT (10 labeled per class in a folder
named after the class, the rest in unlabeled/, the 10,000 test images in test/), then `load_dataset` reads the
folder as the command line does, `--rounds` times (the first with a cold page cache only if you drop it yourself).

    python benchmarks/folder_load.py --data-dir ../shared/data --out /tmp/fmnist-folder --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ssvae.data import load_dataset


def write_folder(data_dir: str, out: Path, labeled_per_class: int) -> int:
    """Fashion-MNIST as PNG files under `out` (skipped when it is already there); the number of files."""
    if (out / "done").exists():
        return int((out / "done").read_text())
    ds = load_dataset("fashion-mnist", data_dir, download=False)
    names = [str(c).replace("/", "-") for c in ds.classes]
    rng = np.random.default_rng(0)
    labeled = set()
    for k in range(ds.num_classes):
        labeled |= set(rng.permutation(np.flatnonzero(ds.y_train == k))[:labeled_per_class].tolist())
    shape = ds.image_shape
    for i, (x, y) in enumerate(zip(ds.x_train, ds.y_train)):
        folder = out / (names[y] if i in labeled else "unlabeled")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(x.reshape(shape)).save(folder / f"{i:05d}.png")
    for i, (x, y) in enumerate(zip(ds.x_test, ds.y_test)):
        folder = out / "test" / names[y]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(x.reshape(shape)).save(folder / f"t{i:05d}.png")
    n = len(ds.x_train) + len(ds.x_test)
    (out / "done").write_text(str(n))
    return n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--labeled-per-class", type=int, default=10)
    a = p.parse_args()
    start = time.perf_counter()
    files = write_folder(a.data_dir, a.out, a.labeled_per_class)
    print(f"{files} files in {a.out} ({time.perf_counter() - start:.1f} s to write or find)", flush=True)
    seconds = []
    for _ in range(a.rounds):
        start = time.perf_counter()
        ds = load_dataset(str(a.out))
        seconds.append(time.perf_counter() - start)
        print(f"read {len(ds.x_train)} training and {len(ds.x_test)} test images in {seconds[-1]:.1f} s", flush=True)
    row = {
        "benchmark": "folder_load",
        "files": files,
        "seconds": [round(s, 2) for s in seconds],
        "median_seconds": round(float(np.median(seconds)), 2),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    print(json.dumps(row))


if __name__ == "__main__":
    main()
