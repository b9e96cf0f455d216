"""Issue 34, item 1: every baseline (scikit-learn's and the graph methods) on the Fashion-MNIST splits at 10
labels per class, seeds 0-2 (the splits of results/m1-n10 and results/fit-defaults-n10: a split depends only on
the data, the label count and the seed), on the pixels and on the code of each seed's M1 stage of
results/fit-defaults-n10 (lr 1e-3, 30 epochs). One small run directory per baseline, as `ssvae report` reads them.

    python results/graph-n10/run.py CAMPAIGN_DIR DATA_DIR OUT
"""

import sys
from pathlib import Path

from ssvae.evaluation.baselines import write_baseline_runs

campaign, data_dir, out = map(Path, sys.argv[1:4])
for seed in (0, 1, 2):
    run = campaign / "runs" / f"lr1e-3-h600-s{seed}"
    for d in write_baseline_runs(out, "fashion-mnist", 10, seed, run / "split.npz", str(data_dir), run / "features"):
        print("wrote", d, flush=True)
