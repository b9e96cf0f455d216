"""A results folder's table: ssvae's series and every baseline at each label count (test accuracy, mean ± SD [95%
CI] over seeds) and ssvae minus each baseline, paired by seed (the reports' statistics,
`ssvae.experiments.tables`); then each baseline's mean fit seconds.

    python benchmarks/baseline_table.py --labels 1 5 --baselines results/curve-scarce/runs/fashion-mnist \
        --ours "M1+M2, 30 + 20 epochs" 'results/curve-scarce/runs/fashion-mnist/m1-m2/n{n}/seed*'

`--baselines`: a folder of <slug>/n<labels>/seed<seed> baseline run directories (`baselines_on_splits.py`); the
slug of `--ours`, if it lies there, is left out of the baselines. Patterns take {n}; several joined by '|'.
"""

from __future__ import annotations

import argparse
import glob
import json
from pathlib import Path

import numpy as np

from ssvae.evaluation.baselines import ALL_BASELINES
from ssvae.experiments.collect import accuracies_by_seed
from ssvae.experiments.tables import fmt, summarize


def accuracies(patterns: str, n: int, which: str) -> dict[int, float]:
    found: dict[int, float] = {}
    for one in patterns.split("|"):
        found.update(accuracies_by_seed(one.format(n=n), which))
    return found


def fit_seconds(pattern: str) -> float:
    files = glob.glob(str(Path(pattern) / "metrics.json"))
    return float(np.mean([json.loads(Path(f).read_text())["train_seconds"] for f in files])) if files else np.nan


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--labels", type=int, nargs="+", required=True)
    p.add_argument("--baselines", type=Path, required=True)
    p.add_argument("--ours", nargs=2, metavar=("NAME", "PATTERN"), required=True)
    a = p.parse_args()
    name, ours = a.ours
    slugs = sorted(d.name for d in a.baselines.iterdir() if d.name in ALL_BASELINES)
    head = " | ".join(f"{n} label{'s' if n > 1 else ''}/class" for n in a.labels)
    print(f"| test accuracy (%) | {head} | {name} − it, paired: " + " | ".join(map(str, a.labels)) + " |")
    print("|---|" + "---|" * (2 * len(a.labels)))
    for which, said in (("best", "best by validation"), ("last", "last epoch")):
        cells = [fmt(summarize(list(accuracies(ours, n, which).values()))) for n in a.labels]
        print(f"| {name} ({said}) | " + " | ".join(cells) + " |" + " |" * len(a.labels))
    series = {s: str(a.baselines / s / "n{n}" / "seed*") for s in slugs}
    ranked = sorted(slugs, key=lambda s: -np.mean(list(accuracies(series[s], a.labels[-1], "best").values()) or [0]))
    for slug in ranked:
        cells, diffs = [], []
        for n in a.labels:
            theirs, mine = accuracies(series[slug], n, "best"), accuracies(ours, n, "best")
            cells.append(fmt(summarize(list(theirs.values()))))
            diffs.append(fmt(summarize([mine[s] - theirs[s] for s in sorted(set(theirs) & set(mine))])))
        print(f"| {ALL_BASELINES[slug][0]} | " + " | ".join(cells) + " | " + " | ".join(diffs) + " |")
    print("\n| baseline | " + " | ".join(f"fit seconds, {n}/class" for n in a.labels) + " |")
    print("|---|" + "---|" * len(a.labels))
    for slug in ranked:
        secs = [fit_seconds(str(a.baselines / slug / f"n{n}" / "seed*")) for n in a.labels]
        print(f"| {ALL_BASELINES[slug][0]} | " + " | ".join(f"{s:.1f}" for s in secs) + " |")


if __name__ == "__main__":
    main()
