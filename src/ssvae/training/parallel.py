"""Independent runs in separate processes (`--jobs`), each with its own share of the CPU's threads.

On a CPU, stacking runs into one step buys nothing (benchmarks/RESULTS.md), but the cores can train several
runs at once. Each job is a fresh process (spawned, so no forked thread pools) that trains one run directory
exactly as `train` would: the same seeds give the same bits as training the runs one after another.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

from ..records.rundir import epochs_done
from .budget import TimeBudget
from .config import TrainConfig
from .watch import QUIET, Watch


def cpu_cores() -> int:
    """Cores this process may use (the affinity mask, where the platform tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def default_jobs() -> int:
    """One job per core, one thread each: on the 2-core EPYC two M2 runs trained at once with one thread each
    took 77.0 s against 84.2 s one after another with two threads (benchmarks/RESULTS.md, 'Parallel runs')."""
    return cpu_cores()


def _one_run(
    train: Callable, cfg: TrainConfig, out: str, threads: int, deadline: float | None, watch: Watch
) -> TimeBudget:
    """Worker: train one run with `threads` threads until done or until the wall-clock `deadline`; returns its
    budget, which says how far the run got, and what `train` handed back (None: not started for time)."""
    import torch

    torch.set_num_threads(threads)
    left = None if deadline is None else deadline - time.time()
    if left is not None and left <= 0:  # the budget ran out while this run waited: report where it stands
        budget = TimeBudget()
        budget.progress[str(out)] = (epochs_done(Path(out), cfg.epochs), cfg.epochs)
        budget.stopped = True
        return budget, None
    budget = TimeBudget(left)
    outcome = train(cfg, out, progress=dataclasses.replace(watch, bar=False), budget=budget)  # bars would clash
    return budget, outcome


def train_parallel(
    train: Callable,
    cfgs: list[TrainConfig],
    outs: list[str | Path],
    jobs: int,
    budget: TimeBudget,
    watch: Watch = QUIET,
) -> list:
    """Train the runs `jobs` at a time, each by `train` (`loop.train_run`, handed in by `loop.train_many`: this
    module sits below the loop); the budget's deadline holds for all of them, and what each job did is merged back
    into `budget` (progress, whether time ran out). What each `train` handed back, in order (None: not started)."""
    threads = max(1, cpu_cores() // jobs)
    deadline = None if budget.seconds is None else time.time() + budget.seconds - (budget.clock() - budget.start)
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_one_run, train, c, str(o), threads, deadline, watch) for c, o in zip(cfgs, outs)]
        results = [f.result() for f in futures]  # an SSVAEError in a job is raised here, as one line like any other
    for job_budget, _ in results:
        budget.merge(job_budget)
    return [outcome for _, outcome in results]
