"""Every baseline (scikit-learn's and the graph methods) on the splits ssvae trains on: one small run directory per
baseline, label count and seed (OUT/<dataset>/<slug>/n<labels>/seed<seed>, config.json and metrics.json as `ssvae
report` reads them); a finished one is skipped, so a rerun continues.

The split is a run's own (`--runs`: its split.npz; with its features/ folder, the baselines on its M1 code too),
or drawn by `make_split` from the data, the label count and the seed, as `ssvae train` draws it.

    python benchmarks/baselines_on_splits.py --data-dir ../shared/data --out OUT --labels 10 --seeds 0 1 2 \
        --runs 'CAMPAIGN/runs/lr1e-3-h600-s{seed}'
    python benchmarks/baselines_on_splits.py --data-dir ../shared/data --out OUT --labels 30 100 \
        --only sklearn-logreg graph-laplace graph-poisson
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ssvae.data import load_dataset, make_split
from ssvae.evaluation.baselines import write_baseline_runs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--labels", type=int, nargs="+", required=True, help="labels per class")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--runs", help="a run directory per split, with {n} and {seed} (its split.npz and features/)")
    p.add_argument("--only", nargs="+", help="these baselines (slugs) only")
    a = p.parse_args()
    ds = load_dataset(a.dataset, a.data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        for n in a.labels:
            for seed in a.seeds:
                if a.runs:
                    run = Path(a.runs.format(n=n, seed=seed))
                    split_path, stage = run / "split.npz", run / "features"
                else:
                    split_path, stage = Path(tmp) / "split.npz", None
                    make_split(ds.y_train, n, None, seed, "labeled", ds.classes).save(split_path)
                stage = stage if stage is not None and stage.is_dir() else None
                for d in write_baseline_runs(a.out, a.dataset, n, seed, split_path, a.data_dir, stage, a.only):
                    print("wrote", d, flush=True)


if __name__ == "__main__":
    main()
