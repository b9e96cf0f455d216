"""`ssvae reproduce`: the paper's grid of runs (models x objectives x datasets x label counts x seeds).

Each run is an ordinary run directory under OUT/runs/, so the grid resumes for free: a finished run (its
metrics.json says it reached the requested epochs) is skipped, an interrupted one continues from its last
checkpoint. Baseline and MIER with the same seed share the same split (paired comparison); different
seeds draw different labeled sets as well as different initialisations.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from . import checkpoint as ck
from .baselines import write_baseline_runs
from .errors import SSVAEError
from .sweep import Point, run_points, shipped_grid
from .train import TimeBudget, TrainConfig

VAE_MODELS = ("m2", "adgm", "lvae")


@dataclass(frozen=True)
class RunSpec:
    dataset: str
    model: str
    mier: bool
    labels: int
    seed: int

    @property
    def path(self) -> str:
        return f"{Path(self.dataset).stem}/{self.model}{'-mier' if self.mier else ''}/n{self.labels}/seed{self.seed}"


def grid(
    tables: set[int],
    datasets: list[str],
    seeds: int,
    labels: int,
    ablation: list[int],
    models: tuple[str, ...] = (*VAE_MODELS, "classifier"),
) -> list[RunSpec]:
    """Every run the requested tables need, each once (Table 2 reads Table 1's runs; Table 3 shares n=labels),
    from the grids shipped with the package (ssvae/grids/table1.toml, table3.toml) with this command's data
    sets, label counts and seeds; `models` keeps only those rows, so that a slice of the grid can train in its own
    process or on its own machine and be reported with the rest."""
    table1, table3 = shipped_grid("table1"), shipped_grid("table3")
    table3.axes["labels_per_class"] = list(ablation)
    specs: list[RunSpec] = []
    for d in datasets:
        for s in range(seeds):
            cfgs = []
            if tables & {1, 2}:
                cfgs += table1.configs(overrides={"dataset": d, "labels_per_class": labels}, seeds=[s])
            if 3 in tables:
                cfgs += table3.configs(overrides={"dataset": d}, seeds=[s])
            specs += [RunSpec(c.dataset, c.model, c.mier, c.labels_per_class, c.seed) for c in cfgs]
    return [s for s in dict.fromkeys(specs) if s.model in models]


def run_grid(
    specs: list[RunSpec],
    out: Path,
    base: TrainConfig,
    iw_samples: int,
    figures: bool = True,
    budget: TimeBudget | None = None,
    jobs: int = 1,
    baselines: bool = True,
    engine: str = "local",
    **engine_options,
) -> float:
    """Train and evaluate every spec not yet finished, or as much as `budget` allows, through the sweep engine
    (`ssvae.sweep`: runs that differ only in seed and MIER form one group, one stacked step on a GPU; groups run
    one after another here, or as Ray trials); returns the wall seconds spent here."""
    budget = budget or TimeBudget()
    t0 = time.perf_counter()
    cfgs = [
        replace(base, dataset=s.dataset, model=s.model, mier=s.mier, labels_per_class=s.labels, seed=s.seed)
        for s in specs
    ]
    points = [Point(c, s.path, 0 if s.model == "classifier" else iw_samples) for c, s in zip(cfgs, specs)]
    run_points(points, out, engine, budget, jobs=jobs, figures=figures, **engine_options)
    if baselines:
        add_baselines(specs, out, base.data_dir, budget)
    return time.perf_counter() - t0


def add_baselines(specs: list[RunSpec], out: Path, data_dir: str | None, budget: TimeBudget) -> None:
    """The scikit-learn rows, on the split of each (data set, labels, seed) that a run has drawn; CPU work, done
    after the grid's training so that an accelerator is not kept waiting, and added by any later rerun."""
    for dataset, labels, seed in dict.fromkeys((s.dataset, s.labels, s.seed) for s in specs):
        if budget.stopped:
            return
        splits = [
            out / "runs" / s.path / ck.SPLIT
            for s in specs
            if (s.dataset, s.labels, s.seed) == (dataset, labels, seed) and (out / "runs" / s.path / ck.SPLIT).exists()
        ]
        if splits:
            write_baseline_runs(out / "runs", dataset, labels, seed, splits[0], data_dir)


def grid_progress(specs: list[RunSpec], out: Path, epochs: int) -> tuple[int, int]:
    """(run-epochs done, run-epochs wanted) over the grid, from the run directories."""
    done = 0
    for spec in specs:
        run = out / "runs" / spec.path
        if (run / ck.METRICS).exists():
            done += min(epochs, ck.load_json(run / ck.METRICS)["epochs"])
        elif (run / ck.LAST).exists():
            done += min(epochs, ck.load_checkpoint(run / ck.LAST)["epoch"])
    return done, epochs * len(specs)


def parse_models(text: str) -> tuple[str, ...]:
    models = tuple(m.strip() for m in text.split(",") if m.strip())
    known = (*VAE_MODELS, "classifier")
    unknown = [m for m in models if m not in known]
    if unknown or not models:
        raise SSVAEError(f"--models {text!r}: give a comma list of {', '.join(known)}")
    return models


def parse_tables(text: str) -> set[int]:
    if text == "all":
        return {1, 2, 3}
    parts = text.split(",")
    if not all(p.strip() in ("1", "2", "3") for p in parts):
        raise SSVAEError(f"--table takes 1, 2, 3, a comma list of them, or all; got '{text}'")
    return {int(p) for p in parts}
