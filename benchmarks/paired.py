"""Paired differences of test accuracy between two sets of finished run directories, matched by seed.

    python benchmarks/paired.py A_GLOB B_GLOB [--checkpoint best|last]

e.g. `python benchmarks/paired.py 'OUT/runs/fashion-mnist/m2/n10/model_options=min_logvar-0.0/seed*'
'results/gpu/runs/fashion-mnist/sklearn-selftraining/n10/seed*'`. Prints each seed's accuracies and A - B with
its mean ± SD and 95% Student-t interval (`ssvae.experiments.tables.summarize`, as the reports use); a seed that
only one side has is left out and named.
"""

from __future__ import annotations

import argparse

from ssvae.experiments.collect import accuracies_by_seed
from ssvae.experiments.tables import fmt, summarize, verdict


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best")
    a = p.parse_args()
    va, vb = accuracies_by_seed(a.a, a.checkpoint), accuracies_by_seed(a.b, a.checkpoint)
    seeds = sorted(set(va) & set(vb))
    for s in seeds:
        print(f"seed {s}: A {va[s]:.2f}  B {vb[s]:.2f}  A - B {va[s] - vb[s]:+.2f}")
    unpaired = sorted(set(va) ^ set(vb))
    if unpaired:
        print(f"left out (one side only): seeds {unpaired}")
    diff = summarize([va[s] - vb[s] for s in seeds])
    print(f"A - B ({a.checkpoint}): {fmt(diff)}: {verdict(diff, 'A better', 'A worse')}")


if __name__ == "__main__":
    main()
