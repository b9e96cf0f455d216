"""Grids of runs as data (a TOML file): fixed settings, lists of values, extra points, seeds; their points.

A grid names fixed settings, lists of values for any `TrainConfig` field (their cartesian product), optional
extra points, and seeds. Each run is an ordinary run directory under OUT/runs/ (`ssvae.records.rundir.run_name`:
<dataset>/<model>[-mier]/n<labels>[/<other varied settings>]/seed<S>), so a sweep resumes for free, whichever
engine trained it (`ssvae.experiments.engines`), and `ssvae report` reads it. Runs that can share one stacked
step (same model, data and shapes; seeds and the objective's per-run settings may differ) form a group.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from ..core.models import MODELS
from ..errors import SSVAEError
from ..records import rundir as rd
from ..settings import coerce
from ..training.config import TrainConfig, check_config, effective, shown
from ..training.stacked import stackable

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

    def points_settings(
        self, base: TrainConfig | None = None, overrides: dict[str, Any] | None = None, seeds: list[int] | None = None
    ) -> list[tuple[dict[str, Any], TrainConfig]]:
        """Every point of the grid, seed by seed (seed 0 of every point first), as (its own settings, the run it
        trains: `effective`, so that a setting with no effect, beta without MIER, does not make another run);
        `overrides` win over the file's fixed settings and drop a grid axis of the same name (e.g. the command
        line's --data-dir)."""
        base, overrides = base or TrainConfig(), overrides or {}
        axes = {k: v for k, v in self.axes.items() if k not in overrides}
        combos = [dict(zip(axes, vals)) for vals in itertools.product(*axes.values())] if axes else [{}]
        combos += [p for p in self.points]
        out = []
        for seed in self.seeds if seeds is None else seeds:
            for combo in combos:
                cfg = replace(base, **{**self.fixed, **combo, **overrides, "seed": seed})
                try:
                    check_config(cfg)
                except SSVAEError as e:
                    raise SSVAEError(f"{self.source}: {e} (at {point_text(combo)})") from None
                out.append((combo, effective(cfg)))
        return out

    def configs(
        self, base: TrainConfig | None = None, overrides: dict[str, Any] | None = None, seeds: list[int] | None = None
    ) -> list[TrainConfig]:
        """The distinct runs of the grid (`points_settings`), first appearance kept."""
        unique: dict[str, TrainConfig] = {}  # TrainConfig is unhashable (a dict field): key by its JSON
        for _, c in self.points_settings(base, overrides, seeds):
            unique.setdefault(config_key(c), c)
        return list(unique.values())

    def merged(self, base: TrainConfig | None = None, overrides: dict[str, Any] | None = None) -> list[str]:
        """One line for each set of points that train the same run, naming them and the settings that made no
        difference (`effective`), for the sweep to say which points it merged."""
        runs: dict[str, list[dict[str, Any]]] = {}
        for combo, c in self.points_settings(base, overrides, self.seeds[:1]):
            runs.setdefault(config_key(c), []).append(combo)
        lines = []
        for combos in (cs for cs in runs.values() if len(cs) > 1):
            keys = {k for c in combos for k in c}
            idle = sorted(k for k in keys if len({json.dumps(c.get(k)) for c in combos}) > 1)
            lines.append(f"{' | '.join(map(point_text, combos))}: one run ({', '.join(idle)}: no effect there)")
        return lines

    def varied(self) -> list[str]:
        """Fields that differ between the grid's points (their values name the run directories)."""
        keys = set(self.axes) | {k for p in self.points for k in p}
        return [f.name for f in dataclasses.fields(TrainConfig) if f.name in keys]


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def config_key(cfg: TrainConfig) -> str:
    """A config as a string that two equal configs share: the identity a grid merges points by."""
    return json.dumps(cfg.to_json(), sort_keys=True)


def point_text(settings: dict[str, Any]) -> str:
    """A point as a grid file spells its settings: `mier = false, beta = 1.0`."""
    return ", ".join(f"{k} = {json.dumps(v)}" for k, v in settings.items()) or "the fixed settings"


def _coerce(where: str, name: str, value: Any) -> Any:
    """One TOML value for field `name`, converted to the field's declared type, or one line saying what is wrong."""
    if name == "seed":
        raise SSVAEError(f"{where} seed: give the seeds as the top-level `seeds` (a list, or a count)")
    if name not in FIELDS:
        raise SSVAEError(f"{where} {name}: not a setting of a run; known: {', '.join(FIELDS)}")
    return coerce(TrainConfig, name, value, where)


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
    """A grid file (TOML), every key, type and value checked: one line naming what is wrong."""
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
    """The text of a grid shipped with the package (`example`, `table1`, `table3`)."""
    return resources.files("ssvae.experiments.grids").joinpath(f"{name}.toml").read_text()


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
    if isinstance(v, dict):  # an empty table (e.g. model_options = {}): the model's defaults
        return "-".join(f"{k}-{_value_text(x)}" for k, x in sorted(v.items())) or "default"
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(v))


def run_path(cfg: TrainConfig, varied: list[str] = ()) -> str:
    """OUT/runs/<this>: the paper's axes always, then any other varied setting that means something for this run
    (`ssvae.training.config.shown`: MIER's weights only with MIER on), then the seed."""
    extra = ",".join(f"{k}={_value_text(getattr(cfg, k))}" for k in varied if k not in PAPER_AXES and shown(cfg, k))
    return rd.run_name(cfg.dataset, cfg.model, cfg.mier, cfg.labels_per_class, cfg.seed, extra)


@dataclass(frozen=True)
class Point:
    cfg: TrainConfig
    path: str  # under OUT/runs
    iw_samples: int = 0

    def run(self, out: Path) -> Path:
        return Path(out) / "runs" / self.path


def points_of(cfgs: list[TrainConfig], varied: list[str], iw_samples: int) -> list[Point]:
    """Supervised-only runs have no generative bound to estimate: no IWAE for them. Two distinct runs that would
    share a run directory (values that read the same in a folder name) are refused before anything is written."""
    points = [Point(c, run_path(c, varied), 0 if MODELS[c.model].supervised_only else iw_samples) for c in cfgs]
    seen: dict[str, Point] = {}
    for p in points:
        q = seen.setdefault(p.path, p)
        if q is not p and config_key(q.cfg) != config_key(p.cfg):
            a, b = ({k: getattr(x.cfg, k) for k in [*varied, "seed"]} for x in (q, p))
            raise SSVAEError(
                f"grid points {point_text(a)} and {point_text(b)} would share the run directory runs/{p.path}; "
                "give values that differ in a folder name"
            )
    return points


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
    """Whether a point's run directory holds its test numbers for all its epochs."""
    run = p.run(out)
    if not (run / rd.METRICS).exists():
        return False
    m = rd.read_json(run / rd.METRICS, rd.METRICS_SHAPE)
    return m["epochs"] >= p.cfg.epochs and m.get("iw_samples", 0) >= p.iw_samples


def run_epochs_done(points: list[Point], out: Path) -> int:
    """Run-epochs logged so far over `points`, read from their run directories (any engine, any process)."""
    return sum(rd.epochs_done(p.run(out), p.cfg.epochs) for p in points)
