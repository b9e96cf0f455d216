"""The table of results/graph-n10/README.md from the committed small files: each baseline's test accuracy over
seeds 0-2 (mean ± SD [95% CI]) and M1+M2 (results/m1-n10/e50, the same splits) minus each, paired by seed.

    python results/graph-n10/table.py
"""

import json
from pathlib import Path

import numpy as np
from scipy import stats

from ssvae.evaluation.baselines import ALL_BASELINES

HERE = Path(__file__).parent
SEEDS = (0, 1, 2)


def summary(values: list[float]) -> str:
    v = np.array(values)
    if len(v) < 2:
        return f"{v.mean():.2f} n={len(v)}"
    half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return f"{v.mean():.2f} ± {v.std(ddof=1):.2f} [{v.mean() - half:.2f}, {v.mean() + half:.2f}] n={len(v)}"


def test_accuracy(folder: Path) -> dict[int, float]:
    out = {}
    for s in SEEDS:
        f = folder / f"seed{s}" / "metrics.json"
        if f.exists():
            out[s] = json.loads(f.read_text())["best"]["test_accuracy"]
    return out


ours = {
    s: json.loads((HERE.parent / f"m1-n10/e50/runs/seed{s}/metrics.json").read_text())["best"]["test_accuracy"]
    for s in SEEDS
}
print("| test accuracy (%) | seeds 0 / 1 / 2 | mean ± SD [95% CI] | M1+M2 − it, paired by seed |")
print("|---|---|---|---|")
print(
    f"| M1+M2 (results/m1-n10/e50: 100 + 50 epochs) | {' / '.join(f'{ours[s]:.2f}' for s in SEEDS)} | "
    f"{summary(list(ours.values()))} | |"
)
for folder in sorted((HERE / "runs" / "fashion-mnist").iterdir()):
    acc = test_accuracy(folder / "n10")
    name = ALL_BASELINES[folder.name][0]
    diffs = [ours[s] - acc[s] for s in acc]
    print(
        f"| {name} | {' / '.join(f'{acc[s]:.2f}' if s in acc else '–' for s in SEEDS)} | "
        f"{summary(list(acc.values()))} | {summary(diffs)} |"
    )
