"""The finished run directories under a folder, as the report reads them: one `Record` each, indexed by
(dataset, model, MIER, labels) and seed (`Index`), paired by seed for differences."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SSVAEError
from ..records import rundir as ck
from .tables import summarize

CHECKPOINTS = ("best", "last")  # the two models a finished run is scored with (`ssvae evaluate`)


@dataclass
class Record:
    dataset: str
    model: str
    mier: bool
    labels: int
    seed: int
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    run_dir: Path
    config: dict[str, Any]


def collect(root: Path) -> list[Record]:
    """Every evaluated run directory under `root`, as the report's records."""
    recs = []
    for mpath in sorted(root.rglob(ck.METRICS)):
        run = mpath.parent
        if not (run / ck.CONFIG).exists():
            continue
        cfg = ck.read_json(run / ck.CONFIG, ck.CONFIG_SHAPE)["config"]
        recs.append(
            Record(
                Path(cfg["dataset"]).stem.replace("_", "-"),
                cfg["model"],
                cfg["mier"],
                cfg["labels_per_class"],
                cfg["seed"],
                ck.read_json(mpath, ck.METRICS_SHAPE),
                ck.read_history(run / ck.HISTORY),
                run,
                cfg,
            )
        )
    if not recs:
        raise SSVAEError(f"no finished runs (run directories with {ck.METRICS}) under {root}; train and evaluate first")
    return recs


class Index:
    """Records by (dataset, model, mier, labels) -> {seed: record}."""

    def __init__(self, recs: list[Record]):
        self.cells: dict[tuple, dict[int, Record]] = defaultdict(dict)
        for r in recs:
            self.cells[(r.dataset, r.model, r.mier, r.labels)][r.seed] = r

    def values(self, key: tuple, ckpt: str, metric: str) -> dict[int, float]:
        return {
            s: r.metrics[ckpt][metric]
            for s, r in self.cells.get(key, {}).items()
            if r.metrics[ckpt][metric] is not None
        }

    def paired(self, a: tuple, b: tuple, ckpt: str, metric: str) -> dict[str, float]:
        va, vb = self.values(a, ckpt, metric), self.values(b, ckpt, metric)
        return summarize([va[s] - vb[s] for s in sorted(set(va) & set(vb))])


def accuracies_by_seed(pattern: str, checkpoint: str) -> dict[int, float]:
    """Seed -> test accuracy of the `checkpoint` ("best" or "last") model of every evaluated run directory matching
    the glob `pattern` (what paired differences and label curves read)."""
    import glob

    out = {}
    for run in sorted(glob.glob(pattern)):
        path = Path(run) / ck.METRICS
        if path.exists():
            metrics = ck.read_json(path, {**ck.METRICS_SHAPE, "seed": int, checkpoint: dict})
            out[metrics["seed"]] = metrics[checkpoint]["test_accuracy"]
    return out
