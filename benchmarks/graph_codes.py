"""Which code makes the best graph (issue 43, item 1): Poisson learning on the codes of M1 variants, on validation.

For each variant and seed, the feature stage is trained by ssvae's own stage-1 loop (`StageRun`, `run_epochs`)
on the seed's training rows (every Fashion-MNIST training image outside the seed's validation split, as a
featurized run trains it), its q(z|x) kept at a few epochs along the way. Each kept code, handed on in several
ways (the mean; the mean scaled to unit length; the mean standardised per dimension; one sample), becomes Calder et
al.'s k = 10 Gaussian nearest-neighbour graph of the training rows, and Poisson learning (graphlearning) labels it
from the seed's split at 1, 5 and 10 labels per class. Two accuracies per row, neither touching the test split:
`val`, the 5,000 validation images scored out of sample (the kernel-weighted mean of their 10 nearest training
nodes' scores, `ssvae.graph.propagation`), and `unl`, the unlabeled training nodes scored transductively (what the
graph would hand a model as pseudo-labels). The pixels are the reference row.

Resumable: each stage checkpoints every epoch (kill it and run the same command), each kept code is a file, each
result row is appended once (`--rows`). One process per core, one thread each:

    python benchmarks/graph_codes.py --data-dir ../shared/data --work runs/graph-codes \
        --rows results/graph-codes/rows.jsonl --jobs m1:0 calder:0
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ssvae.core.features import FEATURES, M1, FeatureEntry, M1Config
from ssvae.data import load_dataset, make_split
from ssvae.files import append_history, read_history, replace_atomically
from ssvae.graph.knn import K, graphlearning, kernel_weights, knn_graph
from ssvae.graph.teacher import decided_scores
from ssvae.training.config import TrainConfig
from ssvae.training.loop import run_epochs
from ssvae.training.stage1 import StageRun

LABEL_COUNTS = (1, 5, 10)


@dataclass(frozen=True)
class Variant:
    hidden: int
    hidden_layers: int
    z_dim: int
    batch: int
    epochs: int
    kept: tuple[int, ...]  # the epochs whose code is measured
    lr: float = 1e-3


VARIANTS = {
    # ssvae's M1 (Kingma et al.: 600-600, z = 50) as the estimator trains it (lr 1e-3, batches of 200), kept at
    # today's 30 epochs and further along
    "m1": Variant(600, 2, 50, 200, 100, (30, 60, 100)),
    "m1-z30": Variant(600, 2, 30, 200, 100, (30, 100)),
    # Calder et al.'s VAE for graphs on Fashion-MNIST: 784-400-30, 100 epochs, Adam 1e-3, batches of 128
    "calder": Variant(400, 1, 30, 128, 100, (30, 60, 100)),
    "calder-z50": Variant(400, 1, 50, 128, 100, (30, 100)),
}


def register(name: str, v: Variant) -> None:
    """The variant as a feature stage ssvae's stage-1 loop can build (`FEATURES`)."""
    config = functools.partial(M1Config, hidden=v.hidden, hidden_layers=v.hidden_layers, z_dim=v.z_dim)
    FEATURES[name] = FeatureEntry(M1, config, name)


def train_variant(name: str, seed: int, x: torch.Tensor, work: Path) -> None:
    """The stage trained (or resumed) to its last epoch, its code (q(z|x)'s mean and log-variance on every
    training image) written at each kept epoch."""
    v = VARIANTS[name]
    register(name, v)
    out = work / f"{name}-s{seed}"
    out.mkdir(parents=True, exist_ok=True)
    cfg = TrainConfig(
        features=name, feature_epochs=v.epochs, lr=v.lr, batch_size=v.batch, seed=seed, precision="fp32", device="cpu"
    )
    key = {"variant": name, **v.__dict__, "kept": list(v.kept), "seed": seed, "n_inputs": len(x)}
    key["likelihood"] = "bernoulli"

    def keep(epoch: int, stage: StageRun) -> None:
        path = out / f"code-e{epoch}.npz"
        if epoch in v.kept and not path.exists():
            mu, logvar = encode(stage.model, work / "x_all.npy")
            replace_atomically(path, lambda f: np.savez(f, mu=mu, logvar=logvar))

    if (out / "done").exists():
        return
    stage = StageRun(cfg, key, x, out)
    keep(stage.epoch, stage)  # a kill between an epoch's checkpoint and its code
    run_epochs(stage, False, lambda epoch, row: keep(epoch, stage))
    (out / "done").touch()


@torch.no_grad()
def encode(model: torch.nn.Module, x_path: Path) -> tuple[np.ndarray, np.ndarray]:
    model.eval()
    x = np.load(x_path)
    mus, logvars = [], []
    for i in range(0, len(x), 2000):
        mu, logvar = model.encode(torch.from_numpy(x[i : i + 2000]).float().div_(255))
        mus.append(mu.numpy())
        logvars.append(logvar.numpy())
    model.train()
    return np.concatenate(mus), np.concatenate(logvars)


def handed_on(code: np.lib.npyio.NpzFile, how: str, nodes: np.ndarray, seed: int) -> np.ndarray:
    """The code as the graph sees it (statistics from the training nodes only)."""
    mu = code["mu"]
    if how == "mean":
        return mu
    if how == "unit":
        return mu / np.maximum(np.linalg.norm(mu, axis=1, keepdims=True), 1e-12)
    if how == "standard":
        m, s = mu[nodes].mean(0), mu[nodes].std(0)
        return (mu - m) / np.maximum(s, 1e-12)
    if how == "sample":
        eps = np.random.default_rng(seed).standard_normal(mu.shape).astype(np.float32)
        return mu + np.exp(0.5 * code["logvar"]) * eps
    raise ValueError(how)


def measure(
    features: np.ndarray, y: np.ndarray, seed: int, tag: dict, rows_path: Path, done: set, balanced: bool = False
) -> None:
    """Poisson learning on the graph of the seed's training nodes, at each label count: validation (out of sample)
    and unlabeled-node (transductive) accuracy; `balanced`: with graphlearning's class-prior balancing to the
    labeled rows' class frequencies (its volume label projection, as `ssvae.graph.teacher` may use it)."""
    gl = graphlearning()
    base = make_split(y, 1, None, seed)
    nodes = np.sort(np.concatenate([base.labeled, base.unlabeled]))
    val = base.validation
    if all(json.dumps({**tag, "labels_per_class": n}, sort_keys=True) in done for n in LABEL_COUNTS):
        return
    t0 = time.perf_counter()
    weights, search = knn_graph(features[nodes])
    vdist, vind = search.kneighbors(np.ascontiguousarray(features[val], dtype=np.float32), n_neighbors=K)
    vw = kernel_weights(vdist)
    graph_seconds = time.perf_counter() - t0
    position = np.full(len(y), -1)
    position[nodes] = np.arange(len(nodes))
    for n in LABEL_COUNTS:
        row_key = {**tag, "labels_per_class": n}
        if json.dumps(row_key, sort_keys=True) in done:
            continue
        split = make_split(y, n, None, seed)
        lab, unl = position[split.labeled], position[split.unlabeled]
        t1 = time.perf_counter()
        priors = np.bincount(y[split.labeled], minlength=10) / len(lab) if balanced else None
        model = gl.ssl.poisson(weights, class_priors=priors)
        scores = model.fit(lab, y[split.labeled])
        solve_seconds = time.perf_counter() - t1
        if balanced:
            scores = decided_scores(model)
        unl_acc = float((scores[unl].argmax(1) == y[split.unlabeled]).mean())
        val_scores = np.einsum("nk,nkc->nc", vw, scores[vind]) / vw.sum(1, keepdims=True)
        val_acc = float((val_scores.argmax(1) == y[val]).mean())
        row = {
            **row_key,
            "val": round(100 * val_acc, 2),
            "unl": round(100 * unl_acc, 2),
            "graph_seconds": round(graph_seconds, 1),
            "solve_seconds": round(solve_seconds, 1),
        }
        append_history(rows_path, row)
        done.add(json.dumps(row_key, sort_keys=True))
        print(json.dumps(row), flush=True)


def table(rows_path: Path) -> str:
    """The rows as a markdown table: per code, the mean validation (and unlabeled-node) accuracy over its seeds at
    each label count, best first by the mean over label counts."""
    groups: dict[tuple, dict[int, list[tuple[float, float]]]] = {}
    for r in read_history(rows_path):
        key = (r["variant"], r["epoch"], r["code"])
        groups.setdefault(key, {}).setdefault(r["labels_per_class"], []).append((r["val"], r["unl"], r["seed"]))
    lines = [
        "| code | epochs | handed on as | seeds | " + " | ".join(f"{n}/class val (unl)" for n in LABEL_COUNTS) + " |",
        "|---|---|---|---|" + "---|" * len(LABEL_COUNTS),
    ]
    scored = []
    for (variant, epoch, code), by_n in groups.items():
        if not all(n in by_n for n in LABEL_COUNTS):
            continue
        cells = [(np.mean([v for v, _, _ in by_n[n]]), np.mean([u for _, u, _ in by_n[n]])) for n in LABEL_COUNTS]
        seeds = sorted({s for n in LABEL_COUNTS for _, _, s in by_n[n]})
        scored.append((np.mean([v for v, _ in cells]), variant, epoch, code, seeds, cells))
    for _, variant, epoch, code, seeds, cells in sorted(scored, key=lambda t: -t[0]):
        shown = " | ".join(f"{v:.2f} ({u:.2f})" for v, u in cells)
        lines.append(f"| {variant} | {epoch or '-'} | {code} | {','.join(map(str, seeds))} | {shown} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--work", type=Path, default=Path("runs/graph-codes"))
    p.add_argument("--rows", type=Path, default=Path("results/graph-codes/rows.jsonl"))
    p.add_argument("--jobs", nargs="+", default=[], help="VARIANT:SEED (pixels:SEED for the pixels)")
    p.add_argument("--table", type=Path, help="write the rows' table here (markdown) and stop")
    p.add_argument("--codes", nargs="+", default=["mean", "unit", "standard", "sample"])
    p.add_argument("--epochs", type=int, nargs="+", help="only these kept epochs")
    p.add_argument("--balanced", action="store_true", help="Poisson learning balanced to the labeled frequencies")
    args = p.parse_args()
    if args.table is not None:
        replace_atomically(args.table, lambda f: f.write(table(args.rows).encode()))
        return
    torch.set_num_threads(1)
    ds = load_dataset("fashion-mnist", args.data_dir, download=False)
    args.work.mkdir(parents=True, exist_ok=True)
    if not (args.work / "x_all.npy").exists():
        replace_atomically(args.work / "x_all.npy", lambda f: np.save(f, ds.x_train))
    done = (
        {
            json.dumps(
                {k: v for k, v in r.items() if k not in ("val", "unl", "graph_seconds", "solve_seconds")},
                sort_keys=True,
            )
            for r in read_history(args.rows)
        }
        if args.rows.exists()
        else set()
    )
    for job in args.jobs:
        name, seed = job.split(":")
        seed = int(seed)
        if name == "pixels":
            tag = {"variant": "pixels", "seed": seed, "epoch": 0, "code": "pixels"}
            tag["code"] += "+balanced" if args.balanced else ""
            measure(ds.x_train.astype(np.float32) / 255, ds.y_train, seed, tag, args.rows, done, args.balanced)
            continue
        split = make_split(ds.y_train, 1, None, seed)
        rows = np.sort(np.concatenate([split.labeled, split.unlabeled]))
        train_variant(name, seed, torch.from_numpy(ds.x_train[rows]), args.work)
        for epoch in args.epochs or VARIANTS[name].kept:
            with np.load(args.work / f"{name}-s{seed}" / f"code-e{epoch}.npz") as code:
                for how in args.codes:
                    tag = {"variant": name, "seed": seed, "epoch": epoch, "code": how + ("+balanced" * args.balanced)}
                    features = handed_on(code, how, rows, seed)
                    measure(features, ds.y_train, seed, tag, args.rows, done, args.balanced)


if __name__ == "__main__":
    main()
