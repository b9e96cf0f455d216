"""The label-count curve's verdict (issue 43, item 5): at each label count, the estimator's default (last epoch)
against the best baseline on the same splits, paired by seed, and the best ssvae method (best by validation).
Writes `--json` (machine-readable: one entry per label count) and prints the Markdown table.

    python benchmarks/curve_summary.py --labels 1 5 10 30 100 --json results/curve-scarce/summary.json \
        --default "M2 taught (calder, λ 0.01)" 'results/teacher/runs/fashion-mnist/calder-t0.01/n{n}/seed*' \
        --ssvae "M1+M2" 'results/curve-scarce/runs/fashion-mnist/m1-m2/n{n}/seed*' \
        --baselines results/curve-scarce/runs/fashion-mnist results/graph-n10/runs/fashion-mnist ...

Patterns take {n}; several joined by '|'. `--default` may be given per label count (`--default-at N NAME PATTERN`)
where the estimator's rule picks another method there. `--baselines`: folders of <slug>/n<labels>/seed<seed> run
directories (`baselines_on_splits.py`); a slug found in several is read from the first that has it on every seed.
The best baseline is the one with the highest mean test accuracy over the default's seeds.
"""

from __future__ import annotations

import argparse
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


def baselines_at(roots: list[Path], n: int, seeds: list[int]) -> dict[str, dict[int, float]]:
    """slug -> seed -> test accuracy at `n` labels per class, gathered over the roots (a seed from the first root that
    has it), for the slugs found on every one of `seeds` (the default's splits)."""
    found: dict[str, dict[int, float]] = {}
    for root in roots:
        for d in sorted(root.iterdir()) if root.is_dir() else []:
            if d.name in ALL_BASELINES:
                for seed, accuracy in accuracies_by_seed(str(d / f"n{n}" / "seed*"), "last").items():
                    found.setdefault(d.name, {}).setdefault(seed, accuracy)
    return {slug: by_seed for slug, by_seed in found.items() if set(seeds) <= set(by_seed)}


def entry(n: int, default: tuple[str, str], ssvae: list[tuple[str, str]], roots: list[Path]) -> dict:
    name, pattern = default
    last = accuracies(pattern, n, "last")
    seeds = sorted(last)
    methods = {label: accuracies(p, n, "best") for label, p in [default, *ssvae]}
    best_name = max(methods, key=lambda m: np.mean(list(methods[m].values())) if methods[m] else -1)
    theirs = baselines_at(roots, n, seeds)
    best = max(theirs, key=lambda s: np.mean([theirs[s][k] for k in seeds]))
    diff = summarize([last[k] - theirs[best][k] for k in seeds])
    return {
        "labels_per_class": n,
        "seeds": seeds,
        "ssvae_default": name,
        "ssvae_default_last": float(np.mean([last[k] for k in seeds])),
        "ssvae_best": float(np.mean(list(methods[best_name].values()))),
        "ssvae_best_method": best_name,
        "ssvae_best_seeds": sorted(methods[best_name]),
        "best_baseline": ALL_BASELINES[best][0],
        "best_baseline_slug": best,
        "best_baseline_mean": float(np.mean([theirs[best][k] for k in seeds])),
        "paired_difference": diff["mean"],
        "ci95": [diff["lo"], diff["hi"]],
        "paired_summary": fmt(diff),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--labels", type=int, nargs="+", required=True)
    p.add_argument("--default", nargs=2, metavar=("NAME", "PATTERN"), required=True)
    p.add_argument("--default-at", nargs=3, action="append", default=[], metavar=("N", "NAME", "PATTERN"))
    p.add_argument("--ssvae", nargs=2, action="append", default=[], metavar=("NAME", "PATTERN"))
    p.add_argument("--baselines", type=Path, nargs="+", required=True)
    p.add_argument("--json", type=Path, required=True)
    a = p.parse_args()
    per_count = {int(n): (name, pattern) for n, name, pattern in a.default_at}
    rows = [entry(n, per_count.get(n, tuple(a.default)), [tuple(s) for s in a.ssvae], a.baselines) for n in a.labels]
    a.json.write_text(json.dumps(rows, indent=1) + "\n")
    print(
        "| labels per class | seeds | the default (last epoch) | best baseline | default − it, paired [95% CI] |"
        " best ssvae (best by validation) |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['labels_per_class']} | {len(r['seeds'])} | {r['ssvae_default_last']:.2f} ({r['ssvae_default']}) | "
            f"{r['best_baseline_mean']:.2f} ({r['best_baseline']}) | {r['paired_summary']} | "
            f"{r['ssvae_best']:.2f} ({r['ssvae_best_method']}) |"
        )


if __name__ == "__main__":
    main()
