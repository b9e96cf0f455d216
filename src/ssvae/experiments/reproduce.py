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

from ..core.models import MODELS
from ..errors import SSVAEError
from ..evaluation.baselines import write_baseline_runs
from ..records import rundir as rd
from ..training.budget import TimeBudget
from ..training.config import TrainConfig, effective
from ..training.stage1 import FINAL as STAGE_FINAL
from .engines import run_points
from .grid import Point, shipped_grid


@dataclass(frozen=True)
class RunSpec:
    dataset: str
    model: str
    mier: bool
    labels: int
    seed: int

    @property
    def path(self) -> str:
        return rd.run_name(self.dataset, self.model, self.mier, self.labels, self.seed)


def grid(
    tables: set[int],
    datasets: list[str],
    seeds: int,
    labels: int,
    ablation: list[int],
    models: tuple[str, ...] | None = None,
) -> list[RunSpec]:
    """Every run the requested tables need, each once (Table 2 reads Table 1's runs; Table 3 shares n=labels),
    from the grids shipped with the package (ssvae/experiments/grids/table1.toml, table3.toml) with this command's
    data sets, label counts and seeds. `models` (default: every registered model) are Table 1's rows, each
    generative one with and without MIER, so that a slice of the grid can train in its own process or on its own
    machine and be reported with the rest, and a newly registered model joins the grid."""
    models = tuple(MODELS) if models is None else models
    table1, table3 = shipped_grid("table1"), shipped_grid("table3")
    table3.axes["labels_per_class"] = list(ablation)
    specs: list[RunSpec] = []
    for d in datasets:
        for s in range(seeds):
            cfgs = []
            if tables & {1, 2}:
                for m in models:
                    only = {"mier": False} if MODELS[m].supervised_only else {}
                    over = {"dataset": d, "labels_per_class": labels, "model": m, **only}
                    cfgs += table1.configs(overrides=over, seeds=[s])
            if 3 in tables:
                cfgs += [c for c in table3.configs(overrides={"dataset": d}, seeds=[s]) if c.model in models]
            specs += [RunSpec(c.dataset, c.model, c.mier, c.labels_per_class, c.seed) for c in cfgs]
    return list(dict.fromkeys(specs))


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
        effective(replace(base, dataset=s.dataset, model=s.model, mier=s.mier, labels_per_class=s.labels, seed=s.seed))
        for s in specs
    ]
    # the supervised-only rows have no unlabeled term for a graph teacher to sit beside, nor classes to enumerate
    cfgs = [replace(c, teacher=0.0, enumerate_top=0) if MODELS[c.model].supervised_only else c for c in cfgs]
    points = [Point(c, s.path, 0 if MODELS[s.model].supervised_only else iw_samples) for c, s in zip(cfgs, specs)]
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
        runs = [
            out / "runs" / s.path
            for s in specs
            if (s.dataset, s.labels, s.seed) == (dataset, labels, seed) and (out / "runs" / s.path / rd.SPLIT).exists()
        ]
        stage = next((r / rd.FEATURE_STAGE for r in runs if (r / rd.FEATURE_STAGE / STAGE_FINAL).exists()), None)
        if runs:  # with a feature stage, the baselines on its code too
            write_baseline_runs(out / "runs", dataset, labels, seed, runs[0] / rd.SPLIT, data_dir, stage)


def grid_progress(specs: list[RunSpec], out: Path, epochs: int) -> tuple[int, int]:
    """(run-epochs done, run-epochs wanted) over the grid, from the run directories."""
    return sum(rd.epochs_done(out / "runs" / spec.path, epochs) for spec in specs), epochs * len(specs)


GRID_RECORD = "grid.json"  # what `ssvae report` says of the grid beside the run directories


def device_name(device) -> str:
    """The machine's name in a report: the GPU's, else the CPU's with the instruction set that sets its speed."""
    import torch

    from ..machine.hardware import cpu_name

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU: {cpu_name()}, {torch.get_num_threads()} threads"


def grid_record(out: Path, device, unavailable: dict[str, str], **facts) -> dict:
    """grid.json's contents: the command's facts (command, tables, data sets, seeds, ...) and the device, with the
    wall seconds of earlier commands on the same grid kept (the caller adds this command's)."""
    path = out / GRID_RECORD
    meta = rd.read_json(path, {"wall_seconds": float}) if path.exists() else {"wall_seconds": 0.0}
    meta["unavailable"] = unavailable
    meta.update(**facts, device_name=device_name(device))
    return meta


def parse_models(text: str) -> tuple[str, ...]:
    """`--models`: a comma list of registered models."""
    models = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise SSVAEError(f"--models {text!r}: give a comma list of {', '.join(MODELS)}")
    return models


def parse_ablation(text: str) -> list[int]:
    """`--labels-ablation`: a comma list of label counts."""
    try:
        return [int(n) for n in text.split(",")]
    except ValueError:
        raise SSVAEError(f"--labels-ablation {text!r}: give whole numbers separated by commas") from None


def default_warmup(warmup_epochs: int | None, epochs: int) -> int:
    """The paper's 200 epochs of KL warm-up, or a fifth of a shorter run."""
    return warmup_epochs if warmup_epochs is not None else min(200, max(1, epochs // 5))


def base_config(data_dir: str | None, device: str, **settings) -> TrainConfig:
    """The settings every run of the grid shares (the paper's defaults otherwise); the grid sets the rest."""
    return TrainConfig(data_dir=data_dir, device=device, **settings)


def loadable(datasets: list[str], data_dir: str | None) -> tuple[list[str], dict[str, str]]:
    """Load each data set once up front (downloading it if need be): those that load, and why the others failed
    (they are left out of the grid)."""
    from ..data import load_dataset

    problems = {}
    for d in datasets:
        try:
            load_dataset(d, data_dir)
        except SSVAEError as e:
            problems[d] = str(e)
    return [d for d in datasets if d not in problems], problems


def parse_tables(text: str) -> set[int]:
    """`--table`: 1, 2, 3, a comma list of them, or all."""
    if text == "all":
        return {1, 2, 3}
    parts = text.split(",")
    if not all(p.strip() in ("1", "2", "3") for p in parts):
        raise SSVAEError(f"--table takes 1, 2, 3, a comma list of them, or all; got '{text}'")
    return {int(p) for p in parts}
