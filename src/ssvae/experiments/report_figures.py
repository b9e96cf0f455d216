"""The report's figures: the I(y;x) and H(q(y|x)) curves of every variant, and Figs. 2-4 of the paper (M2 against
M2+MIER: reconstructions, samples, t-SNE) from one seed's kept checkpoints when they are there."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..core.models import MODELS, display_order
from ..records import rundir as ck
from . import paper
from .collect import Index
from .tables import variant


def figures(ix: Index, datasets: list[str], labels: int, out: Path, data_dir: str | None) -> list[str]:
    """Figs. 2-4 (M2 vs M2+MIER, best checkpoints, seed 0 or the lowest) and the I / H curves."""
    return [mi_entropy_figure(ix, datasets[0], labels, out)] + pair_figures(ix, datasets[0], labels, out, data_dir)


def mi_entropy_figure(ix: Index, d0: str, labels: int, out: Path) -> str:
    """Minibatch I(y;x), H(q(y|x)) and validation accuracy over training, every variant, mean over seeds."""
    import matplotlib.pyplot as plt

    from ..evaluation import plots

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    styles = {False: "-", True: "--"}
    for model, mier in display_order():
        runs = ix.cells.get((d0, model, mier, labels))
        if not runs:
            continue
        hist = [r.history for r in runs.values()]
        epochs = sorted(set.intersection(*[{h["epoch"] for h in rows} for rows in hist]))
        for ax, getter in (
            (axes[0], lambda h: h["train"]["mi"]),
            (axes[1], lambda h: h["train"]["entropy"]),
            (axes[2], lambda h: math.nan if h["val_accuracy"] is None else h["val_accuracy"]),
        ):
            ys = np.mean([[getter(h) for h in rows if h["epoch"] in epochs] for rows in hist], axis=0)
            ax.plot(epochs, ys, styles[mier], color=MODELS[model].color, label=variant(model, mier))
    for ax, title in zip(
        axes,
        (
            "minibatch I(y;x) on unlabeled batches (nats)",
            "mean H(q(y|x)) on unlabeled batches (nats)",
            "validation accuracy (%)",
        ),
    ):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[2].legend(fontsize=8)
    fig.suptitle(
        f"{d0}, {labels} labels per class, mean over seeds: does I(y;x) fall and H rise under the plain "
        "bound (section 4)?",
        fontsize=11,
    )
    plots.save_figure(fig, out / "mi_entropy.png")
    return "mi_entropy.png"


def pair_figures(ix: Index, d0: str, labels: int, out: Path, data_dir: str | None) -> list[str]:
    """Figs. 2-4 from the best checkpoints of M2 and M2+MIER of one seed, when the checkpoints are there."""
    import matplotlib.pyplot as plt
    import torch

    from ..data import load_dataset
    from ..evaluation import plots
    from ..evaluation.evaluate import load_run
    from ..measures import image_grids as grids

    pair = [ix.cells.get((d0, paper.FIGURE_MODEL, m, labels), {}) for m in (False, True)]
    if not all(pair):
        return []
    seed = min(set(pair[0]) & set(pair[1]), default=None)
    if seed is None:
        return []
    runs = [p[seed].run_dir for p in pair]
    if not all((r / ck.BEST).exists() for r in runs):  # results kept as small files only: no checkpoints to draw
        return []
    device = torch.device("cpu")
    cfg = ck.read_json(runs[0] / ck.CONFIG, ck.RUN_SHAPE)
    ds = load_dataset(cfg["config"]["dataset"], data_dir or cfg["config"]["data_dir"])
    x_test, y_test = torch.from_numpy(ds.x_test), torch.from_numpy(ds.y_test)
    shape = tuple(cfg["derived"]["image_shape"])
    models = []
    for run in runs:
        _, m = load_run(run, device)
        m.load_state_dict(ck.load_checkpoint(run / ck.BEST, device)["model"])
        models.append(m)
    names = [
        f"M2 (best epoch {pair[0][seed].metrics['best_epoch']})",
        f"M2+MIER (best epoch {pair[1][seed].metrics['best_epoch']})",
    ]

    fig, axes = plt.subplots(2, 1, figsize=(9, 3))
    for ax, m, name in zip(axes, models, names):
        plots.show_grid(ax, grids.reconstruction_grid(m, x_test, shape), f"{name}: test images, reconstructions")
    plots.save_figure(fig, out / "fig2_recon.png")
    fig, axes = plt.subplots(1, 2, figsize=(9, 5))
    for ax, m, name in zip(axes, models, names):
        plots.show_grid(ax, grids.samples_grid(m, shape, seed=seed), f"{name}\none row per class, z ~ N(0, I)")
    plots.save_figure(fig, out / "fig3_samples.png")
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, m, name in zip(axes, models, names):
        emb, lab = plots.tsne_embedding(m, x_test, y_test, seed=seed)
        title = f"{name}\nt-SNE of the classifier's penultimate layer, {len(lab)} test points"
        plots.scatter_classes(ax, emb, lab, title, cfg["derived"].get("classes"))
    axes[1].legend(markerscale=4, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), title="class")
    plots.save_figure(fig, out / "fig4_tsne.png")
    return ["fig2_recon.png", "fig3_samples.png", "fig4_tsne.png"]
