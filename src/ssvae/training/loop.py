"""The training loop, one for every kind of run: it knows neither the models nor the math, only a stage's contract
(`contracts.Stage`): one run's stage 2 (`run.Run`), a feature stage before it (`stage1.StageRun`), or several runs
stacked into one step (`stacked.StackedRuns`). Here too is the dispatch between them: `train` (one run),
`train_stacked` (runs through one vmapped step) and `train_many` (stacked, in processes, or one by one).

Data stay on the device; each epoch draws its batch order with one call per stream on the device
generator, and per-step statistics are summed on the device, so the host never waits on the GPU
between evaluations. Checkpoints are atomic and hold everything needed to resume bit-for-bit on CPU.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from tqdm import tqdm

from ..data import Dataset, Split, resolve_device
from ..errors import SSVAEError
from ..records import rundir as rd
from ..records.saved import save_model
from .budget import StoppedInStage1, TimeBudget, stop_for_time
from .config import TrainConfig
from .contracts import Stage
from .parallel import train_parallel
from .run import Run, Setup, set_up
from .stacked import NotStackable, StackedRuns, stackable
from .stage1 import StagePlace, StageRun
from .state import Diverged
from .watch import QUIET, Reporter, Watch


def progress_bar(start: int, total: int, desc: str, show: bool) -> tqdm:
    """A tqdm bar over epochs, silent unless asked for."""
    return tqdm(
        range(start, total), initial=start, total=total, disable=not show, desc=desc, unit="epoch", dynamic_ncols=True
    )


def run_epochs(
    stage: Stage, progress: Watch | bool | None = None, on_epoch_end=None, budget: TimeBudget | None = None
) -> Stage:
    """The training loop: the stage's remaining epochs (or as many as `budget` allows), one step after another;
    `progress` says how it reports (`ssvae.training.watch`), `on_epoch_end(epoch, row)` sees each logged row."""
    watch = Watch.of(progress)
    clock = budget.clock if budget is not None else time.perf_counter
    bar = progress_bar(stage.epoch, stage.epochs, stage.label, watch.shows_bar())
    reporters, epochs_here, seconds_here = [Reporter(m, watch) for m in stage.members], 0, 0.0
    step = stage.make_step()
    try:
        for _ in bar:
            if stop_for_time(stage.members, budget):
                break
            t0 = clock()
            stage.train_mode()
            step.begin_epoch(*stage.epoch_indices())
            for i in range(stage.steps_per_epoch):
                step()
                reporters[0].step(i)
            seconds = clock() - t0
            rows = stage.end_epoch(seconds)
            epochs_here, seconds_here = epochs_here + 1, seconds_here + seconds
            if budget is not None:
                budget.timed(clock() - t0)
            if rows is None:
                continue
            for reporter, row in zip(reporters, rows):
                reporter.evaluated(row, epochs_here, seconds_here)
                if on_epoch_end is not None:
                    on_epoch_end(row["epoch"], row)
            bar.set_postfix(stage.postfix(rows))
    finally:
        for reporter in reporters:
            reporter.close()
        bar.close()
    return stage


def feature_stage(setup: Setup, watch: Watch, budget: TimeBudget | None = None) -> nn.Module:
    """The run's stage 1, trained (or resumed) by `run_epochs` where it belongs unless it is already there, in eval
    mode. A `budget` that runs out first raises `StoppedInStage1` (the stage checkpointed: the same command
    continues)."""
    place = StagePlace.of(setup.cfg, setup.dataset, setup.split, setup.out)
    if not place.ready():
        with place.lock():
            if not place.ready():  # not trained meanwhile by the run that held the lock
                x = torch.cat([setup.data.x_lab, setup.data.x_unl])
                stage = run_epochs(StageRun(setup.cfg, place.key, x, place.where), watch, budget=budget)
                if stage.epoch < stage.epochs:
                    raise StoppedInStage1(f"{place.where}: stage 1 stopped for time at epoch {stage.epoch}")
                trained = stage.finish()
                if place.where is None:  # in memory (the estimator)
                    return trained
    return place.load(setup.data.x_unl.device)


@dataclass
class Trained:
    """What training in memory hands back (`fit_in_memory`; the estimator keeps it): nothing of the run itself."""

    model: nn.Module  # holding the kept weights (the best by validation, or the last), in eval mode
    resume: dict[str, Any]  # the last weights, optimizer and step, in the warm-start format (`state.warm_state`)
    history: list[dict[str, Any]]  # one row per evaluated epoch, as metrics.jsonl logs them
    best_epoch: int
    epochs: int  # the epochs the run stands at
    record: dict[str, Any]  # what a run directory's config.json would hold: the settings, what rebuilds the model


def fit_in_memory(
    cfg: TrainConfig, data: tuple[Dataset, Split], init: dict[str, Any] | None = None, watch: Watch = QUIET
) -> Trained:
    """A run on in-memory data, with no run directory (the estimator): both stages through `run_epochs`, continuing
    from `init` (`state.warm_state`) when given."""
    run = run_epochs(open_run(cfg, None, data, init=init, watch=watch), progress=watch)
    resume = run.warm_state()  # the last weights, not the kept ones
    if run.best_state is not None:
        run.model.load_state_dict(run.best_state)
    run.model.eval()
    record = {"config": cfg.to_json(), **run.describe()}
    return Trained(run.model, resume, run.history, run.best_epoch, run.epoch, record)


def open_run(
    cfg: TrainConfig,
    out: str | Path | None,
    data: tuple[Dataset, Split] | None = None,
    init: dict[str, Any] | None = None,
    watch: Watch = QUIET,
    budget: TimeBudget | None = None,
) -> Run:
    """A run ready for its epochs: checked before anything trains (`set_up`), its feature stage trained through the
    same loop (a warm start's `init` brings its stage in its weights: no second stage 1), built, resumed."""
    setup = set_up(cfg, out, data, watch)
    stage = feature_stage(setup, watch, budget) if setup.features and init is None else None
    return Run(setup, stage, init)


def train(
    cfg: TrainConfig,
    out: str | Path,
    on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None,
    progress: Watch | bool | None = None,
    budget: TimeBudget | None = None,
) -> Path:
    """Train one run into a run directory, the same as `ssvae train`.

    Rerunning on the same directory resumes from its last checkpoint (bit-identical on a CPU); settings that would
    change what it trains are refused. A finished run also exports its kept and its last model as `model-best/` and
    `model-last/` (safetensors + JSON), which `ssvae predict` and `SemiSupervisedClassifier.load` read.

    Parameters
    ----------
    cfg : TrainConfig
        Every setting of the run.
    out : str or Path
        The run directory.
    on_epoch_end : callable, optional
        Called as `on_epoch_end(epoch, row)` after each evaluation, `row` being what metrics.jsonl logs.
    progress : Watch or bool, optional
        How the run reports: None decides by the terminal, True a bar, False nothing, or a `Watch`.
    budget : TimeBudget, optional
        `--time-limit`: no epoch is started that would end after it.

    Returns
    -------
    Path
        The run directory.
    """
    return train_run(cfg, out, on_epoch_end, progress, budget).out


@dataclass(frozen=True)
class Outcome:
    """Where a run directory's training stands when a command ends (what `train_many` hands back)."""

    out: Path
    epoch: int  # the epoch it stands at (0: stopped for time in its feature stage)
    last: dict[str, Any] | None  # its last logged row (None before one)

    @classmethod
    def of(cls, run: Run) -> "Outcome":
        return cls(run.out, run.epoch, run.history[-1] if run.history else None)


def train_run(
    cfg: TrainConfig,
    out: str | Path,
    on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None,
    progress: Watch | bool | None = None,
    budget: TimeBudget | None = None,
) -> Outcome:
    """`train`, handing back where the run stands (`Outcome`)."""
    try:
        run = open_run(cfg, out, watch=Watch.of(progress), budget=budget)
    except StoppedInStage1:  # the feature stage is checkpointed; the run itself has not begun
        budget.progress[str(out)] = (0, cfg.epochs)
        return Outcome(Path(out), 0, None)
    try:
        run_epochs(run, progress, on_epoch_end, budget)
        if budget is not None:
            budget.record(run)
        if run.epoch >= cfg.epochs:
            export_models(run)
    except Diverged:
        if run.dir is not None:
            run.dir.forget_unstarted()  # only a run that never reached a checkpoint
        raise
    finally:
        run.close()
    return Outcome.of(run)


def export_models(run: Run) -> None:
    """A finished run's kept and last models as `model-best/` and `model-last/` (safetensors + JSON)."""
    meta = run.describe()
    info = {"config": run.cfg.to_json(), "best_epoch": run.best_epoch, "epochs": run.epoch}
    save_model(run.out / rd.MODEL_LAST, run.evaluated_state(), run.cfg.model, meta, run_preprocessing(run), info)
    best = run.best_state or rd.load_checkpoint(run.out / rd.BEST, "cpu")["model"]
    save_model(run.out / rd.MODEL_BEST, best, run.cfg.model, meta, run_preprocessing(run), info)


def run_preprocessing(run: Run) -> dict[str, Any]:
    """How new inputs become the run's rows: the user's files' own record (a folder of images, a table), else [0, 1]
    intensities (uint8 images divided by 255) shaped as the data set's."""
    return run.dataset.preprocessing or {"kind": "unit", "input_shape": list(run.dataset.image_shape)}


def train_stacked(
    cfgs: list[TrainConfig],
    outs: list[str | Path],
    progress: Watch | bool | None = None,
    budget: TimeBudget | None = None,
) -> list[Path]:
    """Several runs that differ only in seed or MIER, trained through one vmapped step (`stacked.StackedRuns`) by
    the same loop; `stacked.NotStackable` before any training when they cannot be. Their run directories."""
    return [o.out for o in stacked_outcomes(cfgs, outs, progress, budget)]


def stacked_outcomes(
    cfgs: list[TrainConfig], outs: list[str | Path], progress: Watch | bool | None, budget: TimeBudget | None
) -> list[Outcome]:
    """`train_stacked`, handing back where each run stands."""
    runs: list[Run] = []
    try:
        for c, o in zip(cfgs, outs):
            runs.append(open_run(c, o, watch=Watch.of(progress), budget=budget))
        run_epochs(StackedRuns(runs), progress, budget=budget)
        for r in runs:
            if budget is not None:
                budget.record(r)
            if r.epoch >= r.cfg.epochs:
                export_models(r)
        return [Outcome.of(r) for r in runs]
    except StoppedInStage1:  # a feature stage is checkpointed; no stacked epoch begins in this command
        for r in runs:
            budget.record(r)
        for c, o in zip(cfgs[len(runs) :], outs[len(runs) :]):
            budget.progress[str(o)] = (0, c.epochs)
        return [Outcome.of(r) for r in runs] + [Outcome(Path(o), 0, None) for o in outs[len(runs) :]]
    finally:
        for r in runs:
            r.close()


def train_many(
    cfgs: list[TrainConfig],
    outs: list[str | Path],
    progress: Watch | bool | None = None,
    stack: bool | None = None,
    budget: TimeBudget | None = None,
    jobs: int = 1,
) -> list[Outcome]:
    """Train several runs: stacked into one step on a GPU (or when `stack` says so), else `jobs` at a time in
    separate processes (`parallel`), else one by one; where each stands when this returns."""
    on_gpu = resolve_device(cfgs[0].device).type == "cuda"
    if stack is None:
        stack = len(cfgs) > 1 and stackable(cfgs) and on_gpu
    if stack:
        try:
            return stacked_outcomes(cfgs, outs, progress, budget)
        except NotStackable:
            pass  # runs at different epochs (partly resumed grids): fall back to one by one
    if jobs > 1 and len(cfgs) > 1 and not on_gpu:  # on a GPU, runs that cannot stack go one by one
        return train_parallel(train_run, cfgs, outs, min(jobs, len(cfgs)), budget or TimeBudget(), Watch.of(progress))
    return [train_run(c, o, progress=progress, budget=budget) for c, o in zip(cfgs, outs)]


def seeds_configs(cfg: TrainConfig, seeds: list[int], out: str | Path) -> tuple[list[TrainConfig], list[Any]]:
    """One config and run directory per seed: OUT/seed{S}."""
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise SSVAEError(f"--seeds repeats {', '.join(map(str, repeated))}; give each seed once")
    return ([dataclasses.replace(cfg, seed=s) for s in seeds], [Path(out) / f"seed{s}" for s in seeds])
