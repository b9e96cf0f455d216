"""The engines that train a grid's groups of runs: here, group after group, or each group a Ray Tune trial.

A group (runs that share one stacked step, `ssvae.experiments.grid.groups_of`) is the unit of scheduling: one
call of `train_many` in this process, or one Ray Tune trial with its own CPUs and GPU. Every engine trains and
evaluates a group the same way (`run_group`) into the same run directories.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from tqdm import tqdm

from ..core.features import featurized
from ..errors import SSVAEError
from ..evaluation.evaluate import evaluate_run
from ..records.rundir import save_json
from ..training.budget import TimeBudget
from ..training.loop import train_many
from ..training.watch import Watch
from .grid import Point, groups_of, is_finished, run_epochs_done

# Runs of a grid report by lines only (no bar of their own: the engine's bar is over all run-epochs).
RUN_LINES = Watch(bar=False)


# ---------------------------------------------------------------------------------------------------- one group
def run_group(
    group: list[Point],
    out: Path,
    budget: TimeBudget | None = None,
    jobs: int = 1,
    threads: int | None = None,
    figures: bool = False,
    watch: Watch = RUN_LINES,
) -> int:
    """Train and evaluate the group's unfinished runs (or as much as `budget` allows); the same for every engine.
    Returns how many of its runs are finished."""
    import torch

    budget = budget or TimeBudget()
    if threads is not None:
        torch.set_num_threads(threads)
    todo = [p for p in group if not is_finished(p, out)]
    if todo:
        train_many([p.cfg for p in todo], [p.run(out) for p in todo], progress=watch, budget=budget, jobs=jobs)
        for p in todo:
            if budget.progress.get(str(p.run(out)), (1, 1))[0] < p.cfg.epochs:
                continue  # stopped for time: evaluated when a later command finishes it
            evaluate_run(p.run(out), iw_samples=p.iw_samples, device=p.cfg.device, figures=figures, progress=False)
    return sum(is_finished(p, out) for p in group)


# ---------------------------------------------------------------------------------------------------- engines
def run_local(
    groups: list[list[Point]],
    out: Path,
    budget: TimeBudget,
    jobs: int = 1,
    figures: bool = False,
    watch: Watch = RUN_LINES,
    **_: Any,
) -> None:
    """Group after group in this process; a bar over run-epochs (read from the run directories every few
    seconds, so that it moves within a group and across `--jobs` processes) gives the ETA."""
    points = [p for g in groups for p in g]
    total = sum(p.cfg.epochs for p in points)
    # initial=: the ETA counts only what this command trains
    quiet = watch.lines is False  # --quiet: not even the engine's bar
    bar = tqdm(total=total, initial=run_epochs_done(points, out), desc="sweep", unit="run-epoch", disable=quiet or None)
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(2.0):
            try:
                bar.update(run_epochs_done(points, out) - bar.n)
            except Exception:  # a file being replaced at this instant: the next poll reads it
                pass

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        for i, group in enumerate(groups):
            if budget.stopped:
                break
            bar.set_postfix_str(f"group {i + 1}/{len(groups)}: {group[0].path.rsplit('/', 1)[0]} x{len(group)}")
            run_group(group, out, budget, jobs=jobs, figures=figures, watch=watch)
    finally:
        stop.set()
        poller.join()
        bar.update(run_epochs_done(points, out) - bar.n)
        bar.close()


def _ray_trial(
    config: dict[str, Any],
    groups: list[list[Point]],
    out: str,
    deadline: float | None,
    threads: int,
    figures: bool,
    watch: Watch,
) -> None:
    """One Ray Tune trial: one group, its own threads; a retried trial resumes the group's run directories."""
    import ray
    from ray import tune

    group = groups[config["group"]]
    budget = TimeBudget(None if deadline is None else max(1e-3, deadline - time.time()))
    finished = run_group(group, Path(out), budget, threads=threads, figures=figures, watch=watch)
    where = {"node_id": ray.get_runtime_context().get_node_id(), "node_ip": ray.util.get_node_ip_address()}
    tune.report(
        {"runs_finished": finished, "runs": len(group), "run_epochs": run_epochs_done(group, Path(out)), **where}
    )


def unseen_by(folder: Path) -> list[str]:
    """The addresses of the cluster's live nodes that cannot see `folder`: a probe file written here, looked for
    on every node by a task pinned there (no CPU of its own, so busy nodes answer too)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    @ray.remote(num_cpus=0)
    def sees(path: str) -> bool:
        return Path(path).exists()

    probe = folder / f".ssvae-probe-{uuid.uuid4().hex}"
    probe.write_text("every node of a Ray sweep must see this folder\n")
    try:
        nodes = [n for n in ray.nodes() if n["Alive"]]
        strategy = [NodeAffinitySchedulingStrategy(n["NodeID"], soft=False) for n in nodes]
        seen = ray.get([sees.options(scheduling_strategy=s).remote(str(probe)) for s in strategy])
    finally:
        probe.unlink()
    return [n["NodeManagerAddress"] for n, ok in zip(nodes, seen) if not ok]


def ready_ray(out: Path, address: str | None = None, **_: Any) -> None:
    """Connects to the cluster (or starts one here) and refuses, before anything is written, an OUT that a node
    cannot see: its nearest existing folder is probed, which is the same mount as OUT."""
    try:
        import ray
    except ImportError:
        raise SSVAEError('--engine ray needs Ray: pip install "ssvae[ray]"') from None
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    folder = next(p for p in [out.resolve(), *out.resolve().parents] if p.exists())
    blind = unseen_by(folder)
    if blind:
        raise SSVAEError(
            f"--out {out}: not visible from the Ray node(s) {', '.join(blind)}; every node needs the same shared "
            "folder at the same path (and the package and the data)"
        )


def run_ray(
    groups: list[list[Point]],
    out: Path,
    budget: TimeBudget,
    cpus_per_group: int = 1,
    gpus_per_group: float | None = None,
    max_failures: int = 2,
    figures: bool = False,
    watch: Watch = RUN_LINES,
    **_: Any,
) -> None:
    """Each group one Ray Tune trial (a grid search over the groups), with `cpus_per_group` CPUs and
    `gpus_per_group` GPUs (default: 1 where the cluster has GPUs, else 0). Trials write the ordinary run
    directories under OUT, which every node must see (shared storage), checkpoint through the library's own
    atomic checkpoints, and a trial that fails (its worker killed, its node lost) is retried up to `max_failures`
    times, resuming from them."""
    import ray  # connected, and OUT checked, by `check_engine` (`ready_ray`)
    from ray import tune

    if gpus_per_group is None:
        gpus_per_group = 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
    deadline = None if budget.seconds is None else time.time() + budget.seconds - (budget.clock() - budget.start)
    trial = tune.with_parameters(
        _ray_trial,
        groups=groups,
        out=str(out.resolve()),
        deadline=deadline,
        threads=cpus_per_group,
        figures=figures,
        watch=watch,
    )
    tuner = tune.Tuner(
        tune.with_resources(trial, {"cpu": cpus_per_group, "gpu": gpus_per_group}),
        param_space={"group": tune.grid_search(list(range(len(groups))))},
        run_config=tune.RunConfig(
            name="sweep",
            storage_path=str((out / "ray").resolve()),
            failure_config=tune.FailureConfig(max_failures=max_failures),
            verbose=1,
        ),
    )
    results = tuner.fit()
    record_trials(out, groups, results)
    failed = [r for r in results if r.error is not None]
    if failed:
        first = str(failed[0].error).strip().splitlines()[-1]
        names = ", ".join(groups[r.config["group"]][0].path.rsplit("/", 1)[0] for r in failed)
        raise SSVAEError(f"{len(failed)} of {len(groups)} groups failed after retries ({names}): {first}")
    points = [p for g in groups for p in g]
    budget.stopped = sum(is_finished(p, out) for p in points) < len(points) and deadline is not None


TRIALS = "ray/trials.json"  # under OUT: where each group trained, by the trial's last report


def record_trials(out: Path, groups: list[list[Point]], results: Any) -> None:
    """OUT/ray/trials.json: each group's runs, the node that last trained them, and the trial's outcome."""
    rows = []
    for r in results:
        m = r.metrics or {}
        rows.append(
            {
                "group": [p.path for p in groups[r.config["group"]]],
                "node_id": m.get("node_id"),
                "node_ip": m.get("node_ip"),
                "runs_finished": m.get("runs_finished"),
                "error": None if r.error is None else str(r.error).strip().splitlines()[-1],
            }
        )
    save_json(out / TRIALS, sorted(rows, key=lambda row: row["group"]))


ENGINES: dict[str, Callable[..., None]] = {"local": run_local, "ray": run_ray}
# What an engine checks before a command writes anything (the cluster reachable, OUT visible from every node).
READY: dict[str, Callable[..., None]] = {"local": lambda out, **_: None, "ray": ready_ray}


def check_engine(engine: str, out: Path, **options: Any) -> None:
    """Refuse, before anything is written, an engine that cannot run here (Ray missing, an OUT a node cannot see)."""
    if engine not in ENGINES:
        raise SSVAEError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    READY[engine](Path(out), **options)


def shared_features(p: Point, out: Path) -> Point:
    """A grid's feature stages are trained once under OUT/features and shared by every run they fit (same inputs,
    seed and stage settings: `ssvae.training.stage1`), unless the grid names its own `features_dir`."""
    if not featurized(p.cfg.features) or p.cfg.features_dir is not None:
        return p
    return dataclasses.replace(p, cfg=dataclasses.replace(p.cfg, features_dir=str((out / "features").resolve())))


def run_points(
    points: list[Point],
    out: Path,
    engine: str = "local",
    budget: TimeBudget | None = None,
    **options: Any,
) -> float:
    """Train and evaluate every point not yet finished, grouped for stacking, on the chosen engine; returns the
    wall seconds spent."""
    check_engine(engine, Path(out), **options)
    t0 = time.perf_counter()
    points = [shared_features(p, Path(out)) for p in points]
    ENGINES[engine](groups_of(points), Path(out), budget or TimeBudget(), **options)
    return time.perf_counter() - t0
