"""What a practitioner waits for: the estimator at its defaults against scikit-learn's baselines, on the same rows.

    python benchmarks/fit_time.py --data-dir ../shared/data [--dataset fashion-mnist] [--rows 60000] [--seed 0]

Draws `--labels-per-class` labels (default 10) from the first `--rows` training images (default all 60,000), marks
the rest -1, and fits, one after another in this process: `SemiSupervisedClassifier(random_state=SEED)` at its
defaults, label spreading, self-training and logistic regression on the labels (`ssvae.evaluation.baselines`,
the same classifiers `reproduce` and `report` use). Prints test accuracy (the data set's 10,000 test images), wall
seconds and each method's time as a multiple of label spreading's, as a Markdown table; `--json PATH` also writes
them. Run it on a quiet machine (other busy processes slow every row, and the estimator's most).
"""

from __future__ import annotations

import argparse
import json
import re
import time

import numpy as np
import torch

from ssvae import SemiSupervisedClassifier, load_dataset
from ssvae.data.preprocess import unit_intensities
from ssvae.evaluation.baselines import BASELINES, usable
from ssvae.machine.hardware import cpu_name


def labeled_rows(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """`per_class` rows of each class, drawn without replacement from a seeded generator."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--rows", type=int, default=None, help="use the first N training images (default: all)")
    p.add_argument("--labels-per-class", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--methods", nargs="+", default=None, help="default: ssvae and every baseline installed")
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="PARAM=JSON",
        help="override an estimator parameter (e.g. epochs=1 for a quick check); the table says so",
    )
    p.add_argument("--json", default=None)
    p.add_argument("--figure", default=None, help="accuracy against wall time, one point per method (.png)")
    p.add_argument("--from-json", default=None, help="draw --figure from an earlier run's --json; fit nothing")
    a = p.parse_args()
    if a.from_json:
        with open(a.from_json) as f:
            run = json.load(f)
        figure(run["rows"], a.figure, run.get("machine"))
        return
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in a.set)}
    ds = load_dataset(a.dataset, a.data_dir)
    x, y = ds.x_train[: a.rows], ds.y_train[: a.rows]
    lab = labeled_rows(y, a.labels_per_class, a.seed)
    unl = np.setdiff1d(np.arange(len(y)), lab)
    x_test, y_test = ds.x_test, ds.y_test
    rows = []
    for method in a.methods or ["ssvae", *usable(list(BASELINES))]:
        t0 = time.perf_counter()
        if method == "ssvae":
            y_semi = np.full(len(y), -1)
            y_semi[lab] = y[lab]
            clf = SemiSupervisedClassifier(random_state=a.seed, verbose=True, **overrides).fit(x, y_semi)
            acc = clf.score(x_test, y_test)
            settings = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "its defaults"
            name = f"ssvae estimator at {settings} (features_={clf.features_})"
        else:
            name, fit = BASELINES[method]
            clf = fit(
                unit_intensities(x[lab]).reshape(len(lab), -1), y[lab], unit_intensities(x[unl]).reshape(len(unl), -1)
            )
            acc = float((clf.predict(unit_intensities(x_test).reshape(len(x_test), -1)) == y_test).mean())
        rows.append({"method": method, "name": name, "accuracy": 100 * acc, "seconds": time.perf_counter() - t0})
        if method == "ssvae":  # the model's own training (stage 2); the rest is stage 1, the graph, the checks
            rows[-1]["model_seconds"] = clf.history_[-1]["train_seconds"]
        print(f"{name}: {100 * acc:.2f}% in {rows[-1]['seconds']:.1f} s", flush=True)
    spread = next((r["seconds"] for r in rows if r["method"] == "sklearn-labelspreading"), None)
    machine = f"{cpu_name()}, torch {torch.__version__}, {torch.get_num_threads()} threads"
    print(f"\n{a.dataset}, {len(y)} training rows, {a.labels_per_class} labels per class, seed {a.seed}; {machine}")
    print("| method | test accuracy (%) | wall time (s) | of which the model's training (s) | x label spreading |")
    print("|---|---|---|---|---|")
    for r in rows:
        ratio = f"{r['seconds'] / spread:.1f}" if spread else "–"
        model = f"{r['model_seconds']:.1f}" if "model_seconds" in r else "–"
        print(f"| {r['name']} | {r['accuracy']:.2f} | {r['seconds']:.1f} | {model} | {ratio} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"args": vars(a), "machine": machine, "rows": rows}, f, indent=2)
    if a.figure:
        figure(rows, a.figure, machine)


def short_name(slug: str) -> str:
    """A baseline's name in `BASELINES`, without its settings and library: short enough to label a point."""
    return re.sub(r" \((graphlearning, )?knn, k=10\)| \(logistic regression\)", "", BASELINES[slug][0]).removeprefix(
        "scikit-learn "
    )


def figure(rows: list[dict], path: str, machine: str | None = None) -> None:
    """Test accuracy against wall time (log scale), a labeled point per method: what each costs and buys; the
    machine in the title, since every time on it is that machine's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ssvae.evaluation.plots import save_figure

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    # points that fall together (the baselines near 70% and 100 s) get their labels above, below and to the left
    offsets = {
        "sklearn-labelspreading": (6, 7),
        "graph-poisson": (6, -13),
        "sklearn-selftraining": (-66, -13),
        "ssvae": (-40, -16),
    }
    for r in rows:
        ours = r["method"] == "ssvae"
        ax.scatter(r["seconds"], r["accuracy"], s=60 if ours else 40, color="tab:blue" if ours else "tab:grey")
        label = "ssvae (defaults)" if ours else short_name(r["method"])
        where = offsets.get(r["method"], (6, 4))
        ax.annotate(label, (r["seconds"], r["accuracy"]), textcoords="offset points", xytext=where, fontsize=8)
    ax.set_xscale("log")
    times = [r["seconds"] for r in rows]
    ax.set_xlim(min(times) / 2, max(times) * 4)
    ax.set(xlabel="wall time of the fit (s, log scale)", ylabel="test accuracy (%)")
    title = "60,000 Fashion-MNIST images, 10 labels per class"
    ax.set_title(f"{title}\n{machine.split(', torch')[0]}" if machine else title, fontsize=10)
    ax.grid(alpha=0.3)
    save_figure(fig, path)


if __name__ == "__main__":
    main()
