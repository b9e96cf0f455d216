"""The training loop: knows neither the models nor the math, only `loss_fn(model, batch, gen, ...)`.

Data stay on the device; each epoch draws its batch order with one call per stream on the device
generator, and per-step statistics are summed on the device, so the host never waits on the GPU
between evaluations. Checkpoints are atomic and hold everything needed to resume bit-for-bit on CPU.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from tqdm import tqdm

from . import rundir as rd
from .budget import StoppedInStage1, TimeBudget, stop_for_time
from .config import TrainConfig
from .graphs import graphed_if_asked
from .run import Run
from .saved import save_model
from .state import Diverged
from .step import DeviceStep
from .watch import Reporter, Watch


def progress_bar(start: int, total: int, desc: str, show: bool) -> tqdm:
    return tqdm(
        range(start, total), initial=start, total=total, disable=not show, desc=desc, unit="epoch", dynamic_ncols=True
    )


def run_epochs(
    run: Run, progress: Watch | bool | None = None, on_epoch_end=None, budget: TimeBudget | None = None
) -> Run:
    """The training loop: the run's remaining epochs (or as many as `budget` allows), one minibatch step after
    another; `progress` says how it reports (`ssvae.training.watch`)."""
    cfg, watch = run.cfg, Watch.of(progress)
    clock = budget.clock if budget is not None else time.perf_counter
    bar = progress_bar(run.epoch, cfg.epochs, run.label, watch.shows_bar())
    reporter, epochs_here, seconds_here = Reporter(run, watch), 0, 0.0
    step = graphed_if_asked(DeviceStep(run), cfg.cuda_graphs, run.device)
    try:
        for _ in bar:
            if stop_for_time([run], budget):
                break
            t0 = clock()
            run.model.train()
            step.begin_epoch(*run.epoch_indices())
            for i in range(run.sched.steps_per_epoch):
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
            acc = "–" if row["val_accuracy"] is None else f"{row['val_accuracy']:.2f}"
            bar.set_postfix(loss=f"{row['train']['loss']:.2f}", val_acc=acc, best_epoch=run.best_epoch)
            if on_epoch_end is not None:
                on_epoch_end(row["epoch"], row)
    finally:
        reporter.close()
        bar.close()
    if budget is not None:
        budget.record(run)
    return run


def train(
    cfg: TrainConfig,
    out: str | Path,
    on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None,
    progress: Watch | bool | None = None,
    budget: TimeBudget | None = None,
) -> Path:
    """Train one run into `out`; rerunning on the same directory resumes from its last checkpoint. A finished
    run also exports its kept and its last model as `model-best/` and `model-last/` (safetensors + JSON)."""
    try:
        run = Run(cfg, out, watch=Watch.of(progress), budget=budget)
    except StoppedInStage1:  # the feature stage is checkpointed; the run itself has not begun
        budget.progress[str(out)] = (0, cfg.epochs)
        return Path(out)
    try:
        run_epochs(run, progress, on_epoch_end, budget)
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
    meta = run.describe()
    info = {"config": run.cfg.to_json(), "best_epoch": run.best_epoch, "epochs": run.epoch}
    save_model(run.out / rd.MODEL_LAST, run.model.state_dict(), run.cfg.model, meta, unit_preprocessing(run), info)
    best = run.best_state or rd.load_checkpoint(run.out / rd.BEST, "cpu")["model"]
    save_model(run.out / rd.MODEL_BEST, best, run.cfg.model, meta, unit_preprocessing(run), info)


def unit_preprocessing(run: Run) -> dict[str, Any]:
    """Run directories train on [0, 1] intensities (uint8 images divided by 255), shaped as the data set's."""
    return {"kind": "unit", "input_shape": list(run.dataset.image_shape)}
