"""Grids of runs as data (a TOML file), and the engines that train them: here, group after group, or on Ray.

A grid names fixed settings, lists of values for any `TrainConfig` field (their cartesian product), optional
extra points, and seeds. Each run is an ordinary run directory under OUT/runs/ (named like `reproduce`'s:
<dataset>/<model>[-mier]/n<labels>[/<other varied settings>]/seed<S>), so a sweep resumes for free, whichever
engine trained it, and `ssvae report` reads it. Runs that can share one stacked step (same model, data and
shapes; seeds and MIER may differ) form a group; a group is the unit of scheduling: one call of `train_many` in
this process, or one Ray Tune trial with its own CPUs and GPU.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
import threading
import time
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from tqdm import tqdm

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from . import checkpoint as ck
from .errors import SSVAEError
from .evaluate import evaluate_run
from .multirun import stackable, train_many
from .train import TimeBudget, TrainConfig, check_config

PAPER_AXES = ("dataset", "model", "mier", "labels_per_class", "seed")  # already in every run directory's name
TOP_LEVEL = ("seeds", "iw_samples", "fixed", "grid", "points")


# ---------------------------------------------------------------------------------------------------- grid files
@dataclass
class Grid:
    fixed: dict[str, Any]
    axes: dict[str, list[Any]]  # field -> values: the cartesian product
    points: list[dict[str, Any]]  # extra points, each over `fixed`
    seeds: list[int]
    iw_samples: int = 0
    source: str = "grid"

    def configs(
        self, base: TrainConfig | None = None, overrides: dict[str, Any] | None = None, seeds: list[int] | None = None
    ) -> list[TrainConfig]:
        """Every run of the grid, seed by seed (seed 0 of every point first); `overrides` win over the file's
        fixed settings and drop a grid axis of the same name (e.g. the command line's --data-dir)."""
        base, overrides = base or TrainConfig(), overrides or {}
        axes = {k: v for k, v in self.axes.items() if k not in overrides}
        combos = [dict(zip(axes, vals)) for vals in itertools.product(*axes.values())] if axes else [{}]
        combos += [p for p in self.points]
        cfgs = []
        for seed in self.seeds if seeds is None else seeds:
            for combo in combos:
                settings = {**self.fixed, **combo, **overrides, "seed": seed}
                cfg = replace(base, **settings)
                try:
                    check_config(cfg)
                except SSVAEError as e:
                    shown = ", ".join(f"{k}={v!r}" for k, v in combo.items()) or "the fixed settings"
                    raise SSVAEError(f"{self.source}: {e} (at {shown})") from None
                cfgs.append(cfg)
        unique: dict[str, TrainConfig] = {}  # TrainConfig is unhashable (a dict field): key by its JSON; first kept
        for c in cfgs:
            unique.setdefault(json.dumps(c.to_json(), sort_keys=True), c)
        return list(unique.values())

    def varied(self) -> list[str]:
        """Fields that differ between the grid's points (their values name the run directories)."""
        keys = set(self.axes) | {k for p in self.points for k in p}
        return [f.name for f in dataclasses.fields(TrainConfig) if f.name in keys]


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _coerce(where: str, name: str, value: Any) -> Any:
    """One TOML value for field `name`, converted to the field's type, or one line saying what is wrong."""
    if name == "seed":
        raise SSVAEError(f"{where} seed: give the seeds as the top-level `seeds` (a list, or a count)")
    if name not in FIELDS:
        raise SSVAEError(f"{where} {name}: not a setting of a run; known: {', '.join(FIELDS)}")
    kind = str(FIELDS[name].type).replace(" | None", "")
    bad = SSVAEError(f"{where} {name}: {value!r} is not {_KIND_WORDS.get(kind, kind)}")
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad
        value = float(value)
    elif kind == "str":
        if not isinstance(value, str):
            raise bad
    elif kind.startswith("tuple"):
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)):
            raise bad
        value = tuple(float(v) for v in value)
    elif kind.startswith("dict"):
        if not isinstance(value, dict):
            raise bad
    return value


_KIND_WORDS = {
    "bool": "true or false",
    "int": "a whole number",
    "float": "a number",
    "str": "a string",
    "tuple[float, float]": "a list of two numbers",
    "dict[str, Any]": "a table",
}


def parse_grid(data: dict[str, Any], source: str = "grid") -> Grid:
    """A grid from parsed TOML: every key checked against the run settings before anything trains."""
    unknown = [k for k in data if k not in TOP_LEVEL]
    if unknown:
        raise SSVAEError(f"{source}: unknown key {unknown[0]!r}; a grid has {', '.join(TOP_LEVEL)}")
    fixed_raw = data.get("fixed", {})
    if not isinstance(fixed_raw, dict):
        raise SSVAEError(f"{source}: [fixed] must be a table of settings")
    fixed = {k: _coerce(f"{source}: [fixed]", k, v) for k, v in fixed_raw.items()}
    grid_raw = data.get("grid", {})
    if not isinstance(grid_raw, dict):
        raise SSVAEError(f"{source}: [grid] must be a table of lists")
    axes = {}
    for k, values in grid_raw.items():
        if not isinstance(values, list) or not values:
            raise SSVAEError(f"{source}: [grid] {k}: give a non-empty list of values, e.g. {k} = [{values!r}]")
        axes[k] = [_coerce(f"{source}: [grid]", k, v) for v in values]
        if len(set(map(repr, axes[k]))) < len(axes[k]):
            raise SSVAEError(f"{source}: [grid] {k}: a value is listed twice")
    points_raw = data.get("points", [])
    if not isinstance(points_raw, list) or not all(isinstance(p, dict) for p in points_raw):
        raise SSVAEError(f"{source}: points must be [[points]] tables of settings")
    points = [
        {k: _coerce(f"{source}: [[points]] {i + 1}:", k, v) for k, v in p.items()} for i, p in enumerate(points_raw)
    ]
    seeds = data.get("seeds", [0])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise SSVAEError(f"{source}: seeds = {seeds}: give a count of at least 1, or a list of seeds")
        seeds = list(range(seeds))
    if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
        raise SSVAEError(f"{source}: seeds: give a non-empty list of whole numbers, or a count")
    if len(set(seeds)) < len(seeds):
        raise SSVAEError(f"{source}: seeds: a seed is listed twice")
    iw = data.get("iw_samples", 0)
    if isinstance(iw, bool) or not isinstance(iw, int) or iw < 0:
        raise SSVAEError(f"{source}: iw_samples: give a whole number, 0 or more")
    return Grid(fixed, axes, points, seeds, iw, source)


def read_grid(path: str | Path) -> Grid:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SSVAEError(f"{path}: no such grid file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SSVAEError(f"{path}: cannot read it ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise SSVAEError(f"{path}: not valid TOML ({e})") from None
    return parse_grid(data, str(path))


SHIPPED = ("example", "table1", "table3")


def shipped_text(name: str) -> str:
    return resources.files("ssvae.grids").joinpath(f"{name}.toml").read_text()


def shipped_grid(name: str) -> Grid:
    """A grid that comes with the package (ssvae/grids/NAME.toml): the paper's tables, and the example."""
    return parse_grid(tomllib.loads(shipped_text(name)), f"{name}.toml")


def load_grid_arg(text: str) -> Grid:
    """`ssvae sweep GRID`: a file, else the name of a shipped grid."""
    if Path(text).exists() or text not in SHIPPED:
        if not Path(text).exists():
            raise SSVAEError(f"{text}: no such grid file (shipped grids: {', '.join(SHIPPED)})")
        return read_grid(text)
    return shipped_grid(text)


# ---------------------------------------------------------------------------------------------------- run directories
def _value_text(v: Any) -> str:
    if isinstance(v, (tuple, list)):
        return "-".join(map(_value_text, v))
    if isinstance(v, dict):
        return "-".join(f"{k}-{_value_text(x)}" for k, x in sorted(v.items()))
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(v))


def run_path(cfg: TrainConfig, varied: list[str] = ()) -> str:
    """OUT/runs/<this>: the paper's axes always, then any other varied setting, then the seed."""
    head = f"{Path(cfg.dataset).stem}/{cfg.model}{'-mier' if cfg.mier else ''}/n{cfg.labels_per_class}"
    shown = [k for k in varied if k not in PAPER_AXES and (cfg.mier or k not in ("beta", "gamma"))]  # MIER's own
    extra = ",".join(f"{k}={_value_text(getattr(cfg, k))}" for k in shown)
    return f"{head}/{extra}/seed{cfg.seed}" if extra else f"{head}/seed{cfg.seed}"


@dataclass(frozen=True)
class Point:
    cfg: TrainConfig
    path: str  # under OUT/runs
    iw_samples: int = 0

    def run(self, out: Path) -> Path:
        return Path(out) / "runs" / self.path


def points_of(cfgs: list[TrainConfig], varied: list[str], iw_samples: int) -> list[Point]:
    """Supervised-only runs have no generative bound to estimate: no IWAE for them."""
    return [Point(c, run_path(c, varied), 0 if c.model == "classifier" else iw_samples) for c in cfgs]


def groups_of(points: list[Point]) -> list[list[Point]]:
    """Runs that may share one stacked step, in the order of their first appearance."""
    groups: list[list[Point]] = []
    for p in points:
        for g in groups:
            if stackable([g[0].cfg, p.cfg]):
                g.append(p)
                break
        else:
            groups.append([p])
    return groups


def is_finished(p: Point, out: Path) -> bool:
    run = p.run(out)
    if not (run / ck.METRICS).exists():
        return False
    m = ck.load_json(run / ck.METRICS)
    return m["epochs"] >= p.cfg.epochs and m.get("iw_samples", 0) >= p.iw_samples


def run_epochs_done(points: list[Point], out: Path) -> int:
    """Run-epochs logged so far over `points`, read from their histories (any engine, any process)."""
    done = 0
    for p in points:
        run = p.run(out)
        if (run / ck.METRICS).exists():
            done += min(p.cfg.epochs, ck.load_json(run / ck.METRICS)["epochs"])
        elif (run / ck.HISTORY).exists():
            done += min(p.cfg.epochs, len(ck.read_history(run / ck.HISTORY)))
    return done


# ---------------------------------------------------------------------------------------------------- one group
def run_group(
    group: list[Point],
    out: Path,
    budget: TimeBudget | None = None,
    jobs: int = 1,
    threads: int | None = None,
    figures: bool = False,
) -> int:
    """Train and evaluate the group's unfinished runs (or as much as `budget` allows); the same for every engine.
    Returns how many of its runs are finished."""
    import torch

    budget = budget or TimeBudget()
    if threads is not None:
        torch.set_num_threads(threads)
    todo = [p for p in group if not is_finished(p, out)]
    if todo:
        train_many([p.cfg for p in todo], [p.run(out) for p in todo], progress=False, budget=budget, jobs=jobs)
        for p in todo:
            if budget.progress.get(str(p.run(out)), (1, 1))[0] < p.cfg.epochs:
                continue  # stopped for time: evaluated when a later command finishes it
            evaluate_run(p.run(out), iw_samples=p.iw_samples, device=p.cfg.device, figures=figures, progress=False)
    return sum(is_finished(p, out) for p in group)


# ---------------------------------------------------------------------------------------------------- engines
def run_local(
    groups: list[list[Point]], out: Path, budget: TimeBudget, jobs: int = 1, figures: bool = False, **_: Any
) -> None:
    """Group after group in this process; a bar over run-epochs (read from the run directories every few
    seconds, so that it moves within a group and across `--jobs` processes) gives the ETA."""
    points = [p for g in groups for p in g]
    total = sum(p.cfg.epochs for p in points)
    # initial=: the ETA counts only what this command trains
    bar = tqdm(total=total, initial=run_epochs_done(points, out), desc="sweep", unit="run-epoch", disable=None)
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
            run_group(group, out, budget, jobs=jobs, figures=figures)
    finally:
        stop.set()
        poller.join()
        bar.update(run_epochs_done(points, out) - bar.n)
        bar.close()


def _ray_trial(
    config: dict[str, Any], groups: list[list[Point]], out: str, deadline: float | None, threads: int, figures: bool
) -> None:
    """One Ray Tune trial: one group, its own threads; a retried trial resumes the group's run directories."""
    from ray import tune

    group = groups[config["group"]]
    budget = TimeBudget(None if deadline is None else max(1e-3, deadline - time.time()))
    finished = run_group(group, Path(out), budget, threads=threads, figures=figures)
    tune.report({"runs_finished": finished, "runs": len(group), "run_epochs": run_epochs_done(group, Path(out))})


def run_ray(
    groups: list[list[Point]],
    out: Path,
    budget: TimeBudget,
    address: str | None = None,
    cpus_per_group: int = 1,
    gpus_per_group: float | None = None,
    max_failures: int = 2,
    figures: bool = False,
    **_: Any,
) -> None:
    """Each group one Ray Tune trial (a grid search over the groups), with `cpus_per_group` CPUs and
    `gpus_per_group` GPUs (default: 1 where the cluster has GPUs, else 0). Trials write the ordinary run
    directories under OUT, which every node must see (shared storage), checkpoint through the library's own
    atomic checkpoints, and a trial that fails (its worker killed, its node lost) is retried up to `max_failures`
    times, resuming from them."""
    try:
        import ray
        from ray import tune
    except ImportError:
        raise SSVAEError('--engine ray needs Ray: pip install "ssvae[ray]"') from None
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    if gpus_per_group is None:
        gpus_per_group = 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
    deadline = None if budget.seconds is None else time.time() + budget.seconds - (budget.clock() - budget.start)
    trial = tune.with_parameters(
        _ray_trial, groups=groups, out=str(out.resolve()), deadline=deadline, threads=cpus_per_group, figures=figures
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
    failed = [r for r in results if r.error is not None]
    if failed:
        first = str(failed[0].error).strip().splitlines()[-1]
        names = ", ".join(groups[r.config["group"]][0].path.rsplit("/", 1)[0] for r in failed)
        raise SSVAEError(f"{len(failed)} of {len(groups)} groups failed after retries ({names}): {first}")
    points = [p for g in groups for p in g]
    budget.stopped = sum(is_finished(p, out) for p in points) < len(points) and deadline is not None


ENGINES: dict[str, Callable[..., None]] = {"local": run_local, "ray": run_ray}


def run_points(
    points: list[Point],
    out: Path,
    engine: str = "local",
    budget: TimeBudget | None = None,
    **options: Any,
) -> float:
    """Train and evaluate every point not yet finished, grouped for stacking, on the chosen engine; returns the
    wall seconds spent."""
    if engine not in ENGINES:
        raise SSVAEError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    t0 = time.perf_counter()
    ENGINES[engine](groups_of(points), Path(out), budget or TimeBudget(), **options)
    return time.perf_counter() - t0
