"""Issue 34, item 3: Laplace and Poisson learning (graphlearning) on the pixels at 30 and 100 labels per class,
Fashion-MNIST, seeds 0-2, on the splits of results/m1-curve (30) and results/m1-n100 (100): each drawn here by
`make_split` from the data, the label count and the seed, as `ssvae train` draws it. At 10 labels per class they
are results/graph-n10. One small run directory per baseline, as `ssvae report` reads them; rerun to continue.

    OMP_NUM_THREADS=1 python results/graph-curve/run.py DATA_DIR OUT
"""

import sys
import tempfile
from pathlib import Path

from ssvae.data import load_dataset, make_split
from ssvae.evaluation.baselines import write_baseline_runs

data_dir, out = sys.argv[1], Path(sys.argv[2])
ds = load_dataset("fashion-mnist", data_dir)
with tempfile.TemporaryDirectory() as tmp:
    for labels in (30, 100):
        for seed in (0, 1, 2):
            split = make_split(ds.y_train, labels, None, seed, "labeled", ds.classes)
            split.save(Path(tmp) / "split.npz")
            # logistic regression on the labels again (cheap): equal to the committed row, the split is the same
            only = ["sklearn-logreg", "graph-laplace", "graph-poisson"]
            path = Path(tmp) / "split.npz"
            for d in write_baseline_runs(out, "fashion-mnist", labels, seed, path, data_dir, only=only):
                print("wrote", d, flush=True)
