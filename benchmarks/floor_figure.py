"""results/floor-n10/floor.png: validation accuracy, I(y;x) and H(q(y|x)) per epoch of plain M2 and M2 with the
floor on q(z|x,y)'s log-variance (issue 23, item 5), one line per seed, from the committed histories alone.

    python benchmarks/floor_figure.py [RESULTS_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ssvae.records import rundir as rd  # noqa: E402

VARIANTS = {
    "model_options=default": ("plain M2 (unconstrained log-variance)", "C0"),
    "model_options=min_logvar-0.0": ("M2, log-variance floor 0 (variance >= 1)", "C3"),
}


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "results/floor-n10")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for folder, (label, color) in VARIANTS.items():
        for i, run in enumerate(sorted((root / "runs/fashion-mnist/m2/n10" / folder).glob("seed*"))):
            h = rd.read_history(run / rd.HISTORY)
            epochs = [r["epoch"] for r in h]
            for ax, key in zip(axes, ("val_accuracy", "val_mi", "val_entropy")):
                ax.plot(epochs, [r[key] for r in h], color=color, alpha=0.8, label=label if i == 0 else None)
    titles = ("validation accuracy (%)", "I(y;x) on validation (nats)", "mean H(q(y|x)) on validation (nats)")
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Fashion-MNIST, 10 labels per class, warm-up 4 of 20 epochs, seeds 0-2 (CPU)", fontsize=11)
    fig.tight_layout()
    fig.savefig(root / "floor.png", dpi=110)
    print(f"wrote {root / 'floor.png'}")


if __name__ == "__main__":
    main()
