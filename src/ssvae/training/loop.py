"""The training loop, one for both stages: knows neither the models nor the math, only a stage's step
(`Run.make_step` for the classifier model, `features.StageRun.make_step` for the feature stage before it).

Data stay on the device; each epoch draws its batch order with one call per stream on the device
generator, and per-step statistics are summed on the device, so the host never waits on the GPU
between evaluations. Checkpoints are atomic and hold everything needed to resume bit-for-bit on CPU.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from tqdm import tqdm

from ..data import Dataset, Split
from . import rundir as rd
from .budget import StoppedInStage1, TimeBudget, stop_for_time
from .config import TrainConfig
from .features import StagePlace, StageRun
from .run import Run, Setup, set_up
from .saved import save_model
from .state import Diverged
from .watch import QUIET, Reporter, Watch


def progress_bar(start: int, total: int, desc: str, show: bool) -> tqdm:
    """A tqdm bar over epochs, silent unless asked for."""
    return tqdm(
        range(start, total), initial=start, total=total, disable=not show, desc=desc, unit="epoch", dynamic_ncols=True
    )


def run_epochs(
    run: Run | StageRun, progress: Watch | bool | None = None, on_epoch_end=None, budget: TimeBudget | None = None
) -> Run | StageRun:
    """The training loop, for either stage: the remaining epochs (or as many as `budget` allows), one step after
    another; `progress` says how it reports (`ssvae.training.watch`)."""
    watch = Watch.of(progress)
    clock = budget.clock if budget is not None else time.perf_counter
    bar = progress_bar(run.epoch, run.epochs, run.label, watch.shows_bar())
    reporter, epochs_here, seconds_here = Reporter(run, watch), 0, 0.0
    step = run.make_step()
    try:
        for _ in bar:
            if stop_for_time([run], budget):
                break
            t0 = clock()
            run.model.train()
            step.begin_epoch(*run.epoch_indices())
            for i in range(run.steps_per_epoch):
                step()
                reporter.step(i)
            seconds = clock() - t0
            row = run.end_epoch(seconds)
            epochs_here, seconds_here = epochs_here + 1, seconds_here + seconds
            if budget is not None:
                budget.timed(clock() - t0)
            if row is None:
                continue
            reporter.evaluated(row, epochs_here, seconds_here)
            bar.set_postfix(run.postfix(row))
            if on_epoch_end is not None:
                on_epoch_end(row["epoch"], row)
    finally:
        reporter.close()
        bar.close()
    return run


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
    try:
        run = open_run(cfg, out, watch=Watch.of(progress), budget=budget)
    except StoppedInStage1:  # the feature stage is checkpointed; the run itself has not begun
        budget.progress[str(out)] = (0, cfg.epochs)
        return Path(out)
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
    return run.out


def export_models(run: Run) -> None:
    """A finished run's kept and last models as `model-best/` and `model-last/` (safetensors + JSON)."""
    meta = run.describe()
    info = {"config": run.cfg.to_json(), "best_epoch": run.best_epoch, "epochs": run.epoch}
    save_model(run.out / rd.MODEL_LAST, run.evaluated_state(), run.cfg.model, meta, unit_preprocessing(run), info)
    best = run.best_state or rd.load_checkpoint(run.out / rd.BEST, "cpu")["model"]
    save_model(run.out / rd.MODEL_BEST, best, run.cfg.model, meta, unit_preprocessing(run), info)


def unit_preprocessing(run: Run) -> dict[str, Any]:
    """Run directories train on [0, 1] intensities (uint8 images divided by 255), shaped as the data set's."""
    return {"kind": "unit", "input_shape": list(run.dataset.image_shape)}
