"""Issue 34, item 3: every baseline on the split of one ssvae run (its split.npz), on the pixels and on the code of
that run's M1 stage: one small run directory per baseline, as `ssvae report` reads them.

    python results/curve-scarce/baselines.py RUN_DIR LABELS SEED DATA_DIR OUT
"""

import sys
from pathlib import Path

from ssvae.evaluation.baselines import write_baseline_runs

run, labels, seed, data_dir, out = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], Path(sys.argv[5])
for d in write_baseline_runs(out, "fashion-mnist", labels, seed, run / "split.npz", data_dir, run / "features"):
    print("wrote", d, flush=True)
