"""Pictures: reconstructions (Fig. 2), class-conditional samples (Fig. 3), t-SNE (Fig. 4).

Each figure is drawn by a function that fills given matplotlib axes, so one run's picture and the
side-by-side comparisons of `ssvae report` are the same code.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from ..core.models import SemiSupervisedVAE  # noqa: E402
from ..data import to_unit  # noqa: E402
from ..measures.image_grids import reconstruction_grid, samples_grid  # noqa: E402


def show_grid(ax, grid: np.ndarray, title: str) -> None:
    """An image grid in [0, 1] on a matplotlib axis, titled, without ticks."""
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.axis("off")


@torch.no_grad()
def tsne_embedding(
    model: SemiSupervisedVAE, x_test: Tensor, y_test: Tensor, n: int = 2000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A 2-d t-SNE of the model's latent means of `n` test images, with their labels (Fig. 4)."""
    from sklearn.manifold import TSNE

    model.eval()
    idx = torch.randperm(len(x_test), generator=torch.Generator().manual_seed(seed))[:n].to(x_test.device)
    feats = model.features(to_unit(x_test[idx])).float().cpu().numpy()
    emb = TSNE(n_components=2, init="pca", random_state=seed, perplexity=min(30.0, (len(feats) - 1) / 3)).fit_transform(
        feats
    )
    return emb, y_test[idx].cpu().numpy()


def scatter_classes(ax, emb: np.ndarray, labels: np.ndarray, title: str, names=None) -> None:
    """One colour per class code; the legend shows `names[code]` where the data set has class names."""
    cmap = plt.get_cmap("tab10")
    for k in np.unique(labels):
        m = labels == k
        ax.scatter(emb[m, 0], emb[m, 1], s=3, color=cmap(int(k) % 10), label=str(k if names is None else names[k]))
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def save_figure(fig, path: str | Path) -> None:
    """Write a figure as PNG and close it."""
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def run_figures(
    model: SemiSupervisedVAE,
    x_test: Tensor,
    y_test: Tensor,
    shape: tuple[int, int],
    out: str | Path,
    seed: int = 0,
    label: str = "",
    class_names=None,
) -> list[Path]:
    """recon.png, samples.png (generative models only) and tsne.png for one trained run."""
    out = Path(out)
    written = []
    if not model.supervised_only:
        fig, ax = plt.subplots(figsize=(8, 1.4))
        show_grid(
            ax,
            reconstruction_grid(model, x_test, shape),
            f"{label}: test images (top), reconstructions (bottom)"
            if label
            else "test images (top), reconstructions (bottom)",
        )
        save_figure(fig, out / "recon.png")
        fig, ax = plt.subplots(figsize=(4.5, 4.8))
        show_grid(
            ax, samples_grid(model, shape, seed=seed), f"{label}\nsamples, one row per class, z ~ N(0, I)".lstrip()
        )
        save_figure(fig, out / "samples.png")
        written += [out / "recon.png", out / "samples.png"]
    emb, labels = tsne_embedding(model, x_test, y_test, seed=seed)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    scatter_classes(
        ax,
        emb,
        labels,
        f"{label}\nt-SNE of the classifier's penultimate layer ({len(labels)} test points)".lstrip(),
        class_names,
    )
    ax.legend(markerscale=4, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), title="class")
    save_figure(fig, out / "tsne.png")
    return written + [out / "tsne.png"]
