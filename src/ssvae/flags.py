"""The command line's flags, derived from the settings' declarations (`ssvae.settings`, `TrainConfig`): each setting's
flag with its help, default, choices and bounds; the shared flags of several commands (--jobs, --watch,
--time-limit, the engine's); and the parsed flags turned back into a `TrainConfig` or a `Watch`. The commands
themselves are `ssvae.cli`'s."""

from __future__ import annotations

import argparse
from pathlib import Path


def at_least_one(text: str) -> int:
    """argparse type of a count: a usage error (one line, exit 2) for anything below 1."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def not_negative(text: str) -> float:
    """argparse type of an amount such as GPUs per trial: a usage error (one line, exit 2) below 0."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not x >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return x


def add_jobs(p: argparse.ArgumentParser) -> None:
    """`--jobs N`: runs trained at once in separate processes on a CPU (default one per core)."""
    from .training.parallel import default_jobs

    p.add_argument(
        "--jobs",
        type=at_least_one,
        default=default_jobs(),
        help="runs trained at once in separate processes on a CPU, the cores shared among them (default: one per "
        "core); a GPU stacks runs into one step instead",
    )


def add_watch(p: argparse.ArgumentParser) -> None:
    """How a long command reports while it trains (ssvae.training.watch)."""
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars and no progress lines (without a terminal, one line per evaluation is printed)",
    )
    p.add_argument(
        "--tensorboard",
        default=None,
        metavar="DIR",
        help="write each run's curves and figures as TensorBoard events into DIR/<its run directory's name> "
        "(pip install 'ssvae[tensorboard]'); watch with `tensorboard --logdir DIR`",
    )


def watch_of(a: argparse.Namespace, root: Path, lines_only: bool = False):
    """The command's Watch: bars on a terminal (none in grids: the engine has its own), lines without one."""
    from .training.watch import Watch

    bar = False if (a.quiet or lines_only) else None
    watch = Watch(bar=bar, lines=False if a.quiet else None, tensorboard=a.tensorboard, root=str(root))
    watch.check()
    if a.tensorboard is not None:  # before any command writes anything (each run checks its own folder again)
        from .files import check_writable_folder

        check_writable_folder(a.tensorboard, "--tensorboard")
    return watch


def add_time_limit(p: argparse.ArgumentParser) -> None:
    """`--time-limit SECONDS` (or `$SSVAE_TIME_LIMIT`): no epoch is started that would end after it."""
    import os

    env = os.environ.get("SSVAE_TIME_LIMIT")
    p.add_argument(
        "--time-limit",
        type=float,
        default=float(env) if env else None,
        metavar="SECONDS",
        help="start no epoch expected to end after this many seconds; checkpoint and exit 0, and the same command "
        "continues exactly (at least one epoch per command; default $SSVAE_TIME_LIMIT or no limit)",
    )


class HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Every flag's help ends with its default, unless there is none to show (None, a switch) or it names it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        hidden = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        if not action.option_strings or hidden or "default" in text:
            return text
        return text + " (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (what is wrong, where to look), exit status 2, like every other."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


FLAG_TYPES = {"int": int, "float": float, "str": str}


def add_setting(g, name: str, **override) -> None:
    """The flag of one declared setting of a run (`TrainConfig`): help, choices, type and default from its
    declaration (`ssvae.training.config`); `override` for a command whose default differs (reproduce)."""
    from .settings import flag_name, kinds
    from .training.config import SETTINGS, TrainConfig

    s, kind = SETTINGS[name], kinds(TrainConfig)[name]
    if kind == "bool":
        g.add_argument(flag_name(name), action="store_true", help=s.help)
        return
    default = None if s.explicit else getattr(TrainConfig(), name)
    choices = s.known() if s.flag_choices and s.known() else None
    kw = dict(type=FLAG_TYPES[kind], choices=choices, default=default, help=s.help)
    g.add_argument(flag_name(name), **{**kw, **override})


def add_settings(p: argparse.ArgumentParser) -> dict[str, argparse._ArgumentGroup]:
    """One flag per declared setting of a run and per model option (`ssvae.core.models.MODEL_OPTIONS`)."""
    from .core.models import MODEL_OPTIONS
    from .settings import flag_name
    from .training.config import SETTINGS

    groups = {
        "run": p.add_argument_group("run"),
        "data": p.add_argument_group("your own files (a folder of images, a CSV or Parquet table)"),
        "features": p.add_argument_group("feature stage (Kingma et al.'s stacked M1+M2)"),
        "optimisation": p.add_argument_group("optimisation (paper defaults)"),
    }
    for name, s in SETTINGS.items():
        if s.cli:
            add_setting(groups[s.group], name)
    for name, s in MODEL_OPTIONS.items():
        groups["optimisation"].add_argument(
            flag_name(name), type=s.type, choices=s.known() or None, default=None, help=s.help
        )
    return groups


def add_train_args(p: argparse.ArgumentParser) -> None:
    """Every `TrainConfig` setting as a flag (from its declaration), and the options of a train command."""
    g = add_settings(p)["run"]
    g.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="several seeds: one run each in OUT/seed{S}; on a GPU they train together in one stacked step",
    )
    g.add_argument("--out", required=True, help="run directory; rerunning on an existing one resumes it")
    g.add_argument(
        "--restart",
        action="store_true",
        help="discard what an earlier run wrote into --out (checkpoints, history, metrics) and train from scratch",
    )
    add_time_limit(g)
    add_jobs(g)
    add_watch(g)


def config_from_args(a: argparse.Namespace):
    """The run's TrainConfig from the flags `add_settings` made, checked with the flags' spelling."""
    from .core.models import MODEL_OPTIONS
    from .settings import flag_name
    from .training.config import SETTINGS, TrainConfig, check_config

    given = {k: getattr(a, k) for k, s in SETTINGS.items() if s.cli and getattr(a, k) is not None}
    options = {k: getattr(a, k) for k in MODEL_OPTIONS if getattr(a, k) is not None}
    cfg = TrainConfig(**given, model_options=options)
    check_config(cfg, flag_name)
    return cfg


def engine_options(a: argparse.Namespace) -> dict:
    """The engine flags of a parsed command, as the keyword arguments the engines take."""
    return {
        "engine": a.engine,
        "address": a.address,
        "cpus_per_group": a.cpus_per_group,
        "gpus_per_group": a.gpus_per_group,
    }


def add_engine(p: argparse.ArgumentParser) -> None:
    """`--engine`, `--address`, `--cpus-per-group`, `--gpus-per-group`: where the groups of runs train."""
    from .experiments.engines import ENGINES

    g = p.add_argument_group("engine (where the groups of runs train)")
    g.add_argument(
        "--engine",
        choices=list(ENGINES),
        default="local",
        help="local: group after group in this process; ray: each group a Ray Tune trial (pip install 'ssvae[ray]')",
    )
    g.add_argument(
        "--address",
        default=None,
        help="ray: the cluster to join (auto, or HOST:PORT of its head); default: start Ray on this machine",
    )
    g.add_argument("--cpus-per-group", type=at_least_one, default=1, help="ray: CPUs (and threads) per trial")
    g.add_argument(
        "--gpus-per-group",
        type=not_negative,
        default=None,
        help="ray: GPUs per trial (default: 1 where the cluster has GPUs, else 0; a fraction shares a GPU)",
    )


def add_grid_run_args(p: argparse.ArgumentParser) -> None:
    """What every command that trains a grid takes: the engine, a time limit, parallel jobs, how it reports."""
    add_engine(p)
    add_time_limit(p)
    add_jobs(p)
    add_watch(p)
