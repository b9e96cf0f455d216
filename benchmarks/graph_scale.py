"""The graph at scale (issue 43, item 6): the k-nearest-neighbour graph and Poisson learning on every Fashion-MNIST
training image (60,000 rows), timed stage by stage on this machine, with the process's peak memory: on M1's code,
on Calder et al.'s VAE's code (both encoded by a freshly initialised stage: the search's cost depends on the
dimension, not on what the code has learned) and on the 784 pixels.

    python benchmarks/graph_scale.py --data-dir ../shared/data [--threads 2]

The graph is sparse (`ssvae.graph.knn`: about 2nk entries); no n x n matrix is ever built (a dense one of 60,000
rows would hold 3.6 billion floats, 14 GB).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from ssvae.core.features import build_stage
from ssvae.data import load_dataset
from ssvae.graph.knn import graphlearning, knn_graph
from ssvae.machine.hardware import cpu_name
from ssvae.training.stage1 import code_function


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--labels-per-class", type=int, default=10)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    ds = load_dataset("fashion-mnist", a.data_dir, download=False)
    x = ds.x_train.astype(np.float32) / 255
    rng = np.random.default_rng(0)
    per_class = [np.flatnonzero(ds.y_train == k) for k in range(10)]
    lab = np.concatenate([rng.choice(rows, a.labels_per_class, replace=False) for rows in per_class])
    print(f"{cpu_name()}, {a.threads} threads, {len(x)} rows, k = 10\n")
    print("| rows of | dim | encode s | k-NN graph s | Poisson learning s | entries of W | peak memory GB |")
    print("|---|---|---|---|---|---|---|")
    for name in ("m1", "calder", "pixels"):
        t0 = time.perf_counter()
        z = x if name == "pixels" else code_function(build_stage(name, x.shape[1], "bernoulli", 0))(x)
        t1 = time.perf_counter()
        weights, _ = knn_graph(z)
        t2 = time.perf_counter()
        graphlearning().ssl.poisson(weights).fit(lab, ds.y_train[lab])
        t3 = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        print(
            f"| {name} | {z.shape[1]} | {t1 - t0:.1f} | {t2 - t1:.1f} | {t3 - t2:.1f} | {weights.nnz} | {peak:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
