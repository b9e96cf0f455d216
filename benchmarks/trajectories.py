"""Validation accuracy per epoch of plain M2 and M2+MIER under each protocol we ran (issue 14, item 4), drawn from
the committed per-epoch histories (results/*/runs/**/metrics.jsonl) alone: finished and unfinished runs alike.

    python benchmarks/trajectories.py            # writes results/trajectories/m2_trajectory.png
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent / "results"
T = "trajectories/runs"
# title -> [(legend, glob of run directories under results/, color, style)]
PANELS: dict[str, list[tuple[str, str, str, str]]] = {
    "100 labels/class, sum rule, warm-up 10\n(CPU, 50 epochs, 3 seeds)": [
        ("M2", "cpu/runs/fashion-mnist/m2/n100/seed*", "C0", "-"),
        ("M2+MIER", "cpu/runs/fashion-mnist/m2-mier/n100/seed*", "C0", "--"),
        ("supervised only", "cpu/runs/fashion-mnist/classifier/n100/seed*", "C7", "-"),
    ],
    "100 labels/class, sum rule, warm-up 200 (the paper's)\n(H200, first 63 of 1000 epochs, seed 0)": [
        ("M2", f"{T}/gpu-paper-protocol-n100/m2/seed*", "C0", "-"),
        ("M2+MIER", f"{T}/gpu-paper-protocol-n100/m2-mier/seed*", "C0", "--"),
    ],
    "100 labels/class, mean rule, warm-up 10\n(CPU, first 24-25 of 50 epochs, seed 0)": [
        ("M2", f"{T}/cpu-mean-rule-n100/m2/seed*", "C0", "-"),
        ("M2+MIER", f"{T}/cpu-mean-rule-n100/m2-mier/seed*", "C0", "--"),
    ],
    "10 labels/class, sum rule, warm-up 10\n(H200, 50 epochs, 3 seeds; CPU variants of seed 0)": [
        ("M2", "gpu/runs/fashion-mnist/m2/n10/seed*", "C0", "-"),
        ("M2+MIER", "gpu/runs/fashion-mnist/m2-mier/n10/seed*", "C0", "--"),
        ("supervised only", "gpu/runs/fashion-mnist/classifier/n10/seed*", "C7", "-"),
        ("M2, no warm-up", f"{T}/cpu-why-n10/warmup0-sum", "C3", "-"),
        ("M2, mean rule", f"{T}/cpu-why-n10/warmup10-mean", "C2", "-"),
    ],
    "ADGM and LVAE, 100 labels/class, sum, warm-up 10\n(H200, unfinished: 23 and 48 of 50 epochs, 3 seeds)": [
        ("ADGM", f"{T}/gpu-adgm-n100-unfinished/adgm/seed*", "C1", "-"),
        ("ADGM+MIER", f"{T}/gpu-adgm-n100-unfinished/adgm-mier/seed*", "C1", "--"),
        ("LVAE", f"{T}/gpu-lvae-n100-unfinished/lvae/seed*", "C2", "-"),
        ("LVAE+MIER", f"{T}/gpu-lvae-n100-unfinished/lvae-mier/seed*", "C2", "--"),
    ],
}


def curve(run: Path) -> tuple[list[int], list[float]]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("val_accuracy") is not None]
    return [r["epoch"] for r in rows], [r["val_accuracy"] for r in rows]


def main() -> None:
    cols = 3
    rows = -(-len(PANELS) // cols)
    fig, grid = plt.subplots(rows, cols, figsize=(5.4 * cols, 4.3 * rows), squeeze=False)
    axes = list(grid.flat)
    for ax in axes[len(PANELS) :]:
        ax.remove()
    for ax, (title, lines) in zip(axes, PANELS.items()):
        for label, pattern, color, style in lines:
            runs = sorted(r for r in ROOT.glob(pattern) if (r / "metrics.jsonl").exists())
            for i, run in enumerate(runs):
                ax.plot(*curve(run), style, color=color, lw=1.2, alpha=0.8, label=label if i == 0 else None)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for row in grid:
        row[0].set_ylabel("validation accuracy (%), Fashion-MNIST")
    fig.suptitle("Plain M2 against M2+MIER, one line per seed: where does M2 fall?", fontsize=11)
    fig.tight_layout()
    out = ROOT / "trajectories" / "m2_trajectory.png"
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
