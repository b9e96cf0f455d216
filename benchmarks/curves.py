"""Validation accuracy, I(y;x) and H(q(y|x)) per epoch of several groups of runs, one line per run, from their
committed histories (metrics.jsonl) alone.

    python benchmarks/curves.py OUT.png "TITLE" "LABEL=GLOB" ["LABEL=GLOB" ...]

e.g. `python benchmarks/curves.py results/m1-n10/curves.png "Fashion-MNIST, 10 labels per class"
"M2 on pixels=results/floor-n10/runs/fashion-mnist/m2/n10/model_options=default/seed*" ...`; each GLOB matches run
directories, drawn in the group's colour.
"""

from __future__ import annotations

import glob
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ssvae.records import rundir as rd  # noqa: E402

PANELS = {
    "val_accuracy": "validation accuracy (%)",
    "val_mi": "I(y;x) on validation (nats)",
    "val_entropy": "mean H(q(y|x)) on validation (nats)",
}


def main() -> None:
    if len(sys.argv) < 4 or not all("=" in a for a in sys.argv[3:]):
        raise SystemExit(__doc__)
    out, title, groups = Path(sys.argv[1]), sys.argv[2], [a.split("=", 1) for a in sys.argv[3:]]
    fig, axes = plt.subplots(1, len(PANELS), figsize=(15, 4.2))
    for g, (label, pattern) in enumerate(groups):
        runs = sorted(glob.glob(pattern))
        if not runs:
            raise SystemExit(f"{pattern}: no run directories")
        for i, run in enumerate(runs):
            h = rd.read_history(Path(run) / rd.HISTORY)
            for ax, key in zip(axes, PANELS):
                ax.plot(
                    [r["epoch"] for r in h],
                    [r[key] for r in h],
                    color=f"C{g}",
                    alpha=0.8,
                    label=f"{label} ({len(runs)} runs)" if i == 0 else None,
                )
    for ax, name in zip(axes, PANELS.values()):
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
