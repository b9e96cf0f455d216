"""`ssvae` command line: demo, train, evaluate. Errors in the user's input print one line, exit 2."""

from __future__ import annotations

import argparse
import shlex
import sys
import warnings
from pathlib import Path

from .errors import SSVAEError

DEMO_EPOCHS = 60
DEMO_LR = 1e-3  # chosen on validation (results/demo-lr: M2 93.06% against 92.17% at the paper's 3e-4)
DEMO_RUNS = [("classifier", False), ("m2", False), ("m2", True)]  # (model, MIER), in the order the demo trains


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


def cmd_train(a: argparse.Namespace) -> None:
    """`ssvae train`: one run (or one per seed) into `--out`, resumed when it is already there."""
    from .training import rundir as ck
    from .training.budget import TimeBudget
    from .training.stacked import seeds_configs, train_many

    cfg = config_from_args(a)
    budget, watch = TimeBudget(a.time_limit), watch_of(a, Path(a.out).parent)
    if a.labels_per_class is not None and (cfg.dataset.endswith(".npz") or Path(cfg.dataset).is_file()):
        from .data import load_dataset

        if load_dataset(cfg.dataset).partially_labeled:
            raise SSVAEError(
                f"{cfg.dataset} marks its unlabeled examples with -1, so it keeps its own labels: "
                "drop --labels-per-class"
            )
    cfgs, outs = seeds_configs(cfg, a.seeds, a.out) if a.seeds else ([cfg], [a.out])
    if a.restart:  # the flags were checked above, before anything is discarded
        for out in outs:
            ck.clear_run(Path(out))
    train_many(cfgs, outs, progress=watch, budget=budget, jobs=a.jobs)
    if budget.stopped:
        print(budget.summary())
        return
    for out in outs:
        last = ck.read_history(Path(out) / ck.HISTORY)[-1]
        acc = "" if last["val_accuracy"] is None else f", val accuracy {last['val_accuracy']:.2f}%"
        print(f"trained {out}: epoch {last['epoch']}{acc}; next: ssvae evaluate {out}, or ssvae predict {out} INPUT")


def format_table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """A markdown table from dicts; None prints as an en dash."""

    from .experiments.report import md_table

    def cell(v):
        return "–" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)

    return md_table([c for c, _ in columns], [[cell(r.get(k)) for _, k in columns] for r in rows])


def cmd_evaluate(a: argparse.Namespace) -> None:
    """`ssvae evaluate`: a finished run's test numbers for its kept and its last model, and its figures."""
    from .evaluation.evaluate import evaluate_run

    m = evaluate_run(a.run_dir, iw_samples=a.iw_samples, device=a.device, data_dir=a.data_dir, figures=not a.no_figures)
    rows = [{"checkpoint": f"{w} (epoch {m[w]['epoch']})", **m[w]} for w in ("best", "last")]
    cols = [
        ("checkpoint", "checkpoint"),
        ("val acc %", "val_accuracy"),
        ("test acc %", "test_accuracy"),
        ("test entropy", "test_entropy"),
        ("test ELBO", "test_elbo"),
    ]
    if a.iw_samples:
        cols.append((f"test IWAE-{a.iw_samples}", "test_iwae"))
    print(format_table(rows, cols))
    print(f"wrote {Path(a.run_dir) / 'metrics.json'}")


def cmd_demo(a: argparse.Namespace) -> None:
    """Supervised-only, M2 and M2+MIER on scikit-learn's bundled digits, on the CPU in about a minute."""
    from .evaluation.evaluate import evaluate_run
    from .experiments.report import variant
    from .training.config import TrainConfig
    from .training.loop import train
    from .training.rundir import check_run_dir_path, variant_name

    out = Path(a.out)
    check_run_dir_path(out)
    rows = []
    for model, mier in DEMO_RUNS:
        label = variant(model, mier)
        cfg = TrainConfig(
            model=model,
            mier=mier,
            dataset="digits",
            labels_per_class=a.labels_per_class,
            epochs=a.epochs,
            lr=DEMO_LR,
            warmup_epochs=a.epochs // 4,
            seed=a.seed,
            device=a.device,
            precision="fp32",  # the same numbers on every CPU (tiny networks: bf16 would buy nothing here)
            batch_size=100,
            labeled_batch_size=100,
            features=a.features,
            features_dir=str(out / "features"),  # one stage 1, shared by the three rows
        )
        run = out / variant_name(model, mier)
        print(f"== {label}: {run}", flush=True)
        train(cfg, run)
        m = evaluate_run(run, device=a.device, figures=True)
        rows.append({"model": label, **m["best"], "best_epoch": m["best_epoch"]})
    on = "" if a.features == "none" else f", every model on {a.features}'s code"
    print(
        f"\ndigits, {a.labels_per_class} labels per class, {a.epochs} epochs at lr {DEMO_LR:g}{on}, seed {a.seed} "
        f"(best-by-validation checkpoint; test split never used for selection)\n"
    )
    print(
        format_table(
            rows,
            [
                ("model", "model"),
                ("best epoch", "best_epoch"),
                ("val acc %", "val_accuracy"),
                ("test acc %", "test_accuracy"),
                ("test entropy", "test_entropy"),
                ("test ELBO (nats)", "test_elbo"),
            ],
        )
    )
    print(f"\nrun directories, figures and metrics under {out}/")
    print_baselines(out / "m2", rows)


def print_baselines(run_dir: Path, rows: list[dict]) -> None:
    """scikit-learn on the very split the runs trained on (and on the runs' code, when they have a feature stage),
    and one sentence on who wins."""
    from .data import Split, load_dataset
    from .evaluation.baselines import run_baselines, who_wins
    from .training import rundir as ck
    from .training.features import stage_encoder

    cfg = ck.load_json(run_dir / ck.CONFIG)["config"]
    ds = load_dataset(cfg["dataset"], cfg["data_dir"])
    split = Split.load(run_dir / ck.SPLIT)
    base = run_baselines(ds, split)
    if (run_dir / ck.FEATURE_STAGE).is_dir():
        base += run_baselines(ds, split, code=stage_encoder(run_dir / ck.FEATURE_STAGE))
    print("\nbaselines on the same labeled, unlabeled and test images:\n")
    cols = [("baseline", "baseline"), ("test acc %", "test_accuracy"), ("fit seconds", "fit_seconds")]
    print(format_table(base, cols))
    print("\n" + who_wins(rows, base, len(ds.y_test)))


def cmd_reproduce(a: argparse.Namespace) -> None:
    """`ssvae reproduce`: the paper's grid through the sweep engine, its baselines, then the report."""
    from .data import resolve_device
    from .experiments import reproduce as rp
    from .experiments.engines import check_engine
    from .experiments.report import build_report
    from .training import rundir as ck
    from .training.budget import TimeBudget

    tables, models, ablation = rp.parse_tables(a.table), rp.parse_models(a.models), rp.parse_ablation(a.labels_ablation)
    budget, out, device = TimeBudget(a.time_limit), Path(a.out), resolve_device(a.device)
    ck.check_run_dir_path(out)
    watch = watch_of(a, out / "runs", lines_only=True)
    warmup = rp.default_warmup(a.warmup_epochs, a.epochs)
    settings = dict(epochs=a.epochs, warmup_epochs=warmup, precision=a.precision, compile=a.compile)
    settings.update(cuda_graphs=a.cuda_graphs)
    settings.update(features=a.features, feature_epochs=a.feature_epochs, feature_code=a.feature_code)
    base = rp.base_config(a.data_dir, str(device), eval_every=a.eval_every, **settings)
    datasets, unavailable = rp.loadable([d.strip() for d in a.datasets.split(",") if d.strip()], a.data_dir)
    check_engine(out=out, **engine_options(a))
    ck.make_run_dir(out)
    for d, why in unavailable.items():
        print(f"skipping {d}: {why}", file=sys.stderr)
    if not datasets:
        raise SSVAEError("none of the data sets could be loaded; see the lines above")
    specs = rp.grid(tables, datasets, a.seeds, a.labels_per_class, ablation, models)
    facts = dict(tables=sorted(tables), datasets=datasets, seeds=a.seeds, labels=a.labels_per_class)
    facts.update(ablation=ablation, epochs=a.epochs, warmup_epochs=warmup, runs=len(specs))
    meta = rp.grid_record(out, device, unavailable, command="ssvae " + shlex.join(a.argv), **facts)
    print(
        f"{len(specs)} runs: tables {sorted(tables)}, datasets {datasets}, {a.seeds} seeds, {a.epochs} epochs -> {out}",
        flush=True,
    )
    iw = a.iw_samples if 2 in tables else 0
    options = dict(budget=budget, jobs=a.jobs, baselines=a.baselines, figures=not a.no_figures, watch=watch)
    options.update(engine_options(a))
    meta["wall_seconds"] += rp.run_grid(specs, out, base, iw, **options)
    ck.save_json(out / rp.GRID_RECORD, meta)
    if budget.stopped:
        print(budget.summary(rp.grid_progress(specs, out, base.epochs)))
        return
    for path in build_report(out, a.data_dir, draw=not a.no_figures):
        print(f"wrote {path}")


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


def cmd_sweep(a: argparse.Namespace) -> None:
    """`ssvae sweep`: a grid file's runs through an engine, then `sweep.md` and `sweep.csv`."""
    from .experiments.engines import check_engine, run_points
    from .experiments.grid import SHIPPED, load_grid_arg, points_of, run_epochs_done, shipped_text
    from .experiments.report import sweep_table
    from .experiments.reproduce import loadable
    from .training import rundir as ck
    from .training.budget import TimeBudget

    if a.show:
        if a.grid not in SHIPPED:
            raise SSVAEError(f"--show {a.grid!r}: shipped grids are {', '.join(SHIPPED)}")
        print(shipped_text(a.grid), end="")
        return
    if a.out is None:
        raise SSVAEError("give --out DIR: the folder for the sweep's run directories and its table")
    grid = load_grid_arg(a.grid)
    overrides = {k: v for k, v in (("data_dir", a.data_dir), ("device", a.device)) if v is not None}
    cfgs = grid.configs(overrides=overrides)
    for dataset, data_dir in dict.fromkeys((c.dataset, c.data_dir) for c in cfgs):
        _, problems = loadable([dataset], data_dir)
        if problems:
            raise SSVAEError(f"{grid.source}: dataset {dataset!r}: {problems[dataset]}")
    iw = grid.iw_samples if a.iw_samples is None else a.iw_samples
    if iw < 0:
        raise SSVAEError(f"--iw-samples must be 0 or more, got {iw}")
    points = points_of(cfgs, grid.varied(), iw)
    merged = grid.merged(overrides=overrides)
    out = Path(a.out)
    ck.check_run_dir_path(out)
    budget, watch = TimeBudget(a.time_limit), watch_of(a, out / "runs", lines_only=True)
    check_engine(out=out, **engine_options(a))
    ck.make_run_dir(out)
    ck.save_json(
        out / "sweep.json",
        {
            "command": "ssvae " + shlex.join(a.argv),
            "grid": grid.source,
            "runs": len(points),
            "engine": a.engine,
            "merged": merged,
        },
    )
    print(f"{len(points)} runs from {grid.source} -> {out} ({a.engine} engine)", flush=True)
    for line in merged:
        print(f"merged {line}", flush=True)
    run_points(points, out, budget=budget, jobs=a.jobs, figures=not a.no_figures, watch=watch, **engine_options(a))
    for path in sweep_table(out, points, grid.varied(), merged):
        print(f"wrote {path}")
    if budget.stopped:
        print(budget.summary((run_epochs_done(points, out), sum(p.cfg.epochs for p in points))))


def cmd_report(a: argparse.Namespace) -> None:
    """`ssvae report`: tables and figures rebuilt from finished run directories, nothing trained."""
    from .experiments.report import build_report

    for path in build_report(a.dir, a.data_dir, draw=not a.no_figures):
        print(f"wrote {path}")


def cmd_predict(a: argparse.Namespace) -> None:
    """`ssvae predict`: class probabilities for new inputs, written to a CSV."""
    from .predict import predict_to_csv

    n = predict_to_csv(a.model, a.input, a.out, device=a.device)
    print(f"wrote {a.out}: {n} predictions")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: what `ssvae --help` prints and what the manual's CLI reference is built from."""
    p = Parser(
        prog="ssvae",
        description="Semi-supervised VAEs (M2, ADGM, LVAE) with the MIER regulariser.",
        formatter_class=HelpWithDefaults,
    )
    from . import __version__

    p.add_argument("--version", action="version", version=f"ssvae {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    add_parser = sub.add_parser
    sub.add_parser = lambda *a, **k: add_parser(*a, formatter_class=HelpWithDefaults, **k)  # defaults in every --help

    for add in (
        add_demo_parser,
        add_train_parser,
        add_evaluate_parser,
        add_predict_parser,
        add_reproduce_parser,
        add_sweep_parser,
        add_report_parser,
    ):
        add(sub)
    return p


def add_demo_parser(sub) -> None:
    """`ssvae demo`'s options."""
    d = sub.add_parser("demo", help="M2 vs M2+MIER vs supervised-only on bundled digits (CPU, ~1 min)")
    d.add_argument("--out", default="runs/demo", help="folder for the three run directories (default runs/demo)")
    d.add_argument("--epochs", type=int, default=DEMO_EPOCHS, help=f"epochs per run (default {DEMO_EPOCHS})")
    d.add_argument("--labels-per-class", type=int, default=10, help="labeled digits per class (default 10)")
    d.add_argument("--seed", type=int, default=0, help="fixes split, initialisation and batch order (default 0)")
    d.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    add_setting(d, "features")
    d.set_defaults(func=cmd_demo)


def add_train_parser(sub) -> None:
    """`ssvae train`'s options."""
    t = sub.add_parser("train", help="train one run into a run directory (resumable)")
    add_train_args(t)
    t.set_defaults(func=cmd_train)


def add_evaluate_parser(sub) -> None:
    """`ssvae evaluate`'s options."""
    e = sub.add_parser("evaluate", help="test metrics and figures for a trained run")
    e.add_argument("run_dir", help="the --out of `ssvae train`")
    e.add_argument(
        "--iw-samples", type=int, default=0, help="importance samples per class for the IWAE bound (0: skip)"
    )
    e.add_argument("--device", default="auto", help="auto, cpu or cuda")
    e.add_argument("--data-dir", default=None, help="where the data set is now, if it moved since training")
    e.add_argument("--no-figures", action="store_true", help="metrics only: skip recon, samples and t-SNE figures")
    e.set_defaults(func=cmd_evaluate)


def add_predict_parser(sub) -> None:
    """`ssvae predict`'s options."""
    pr = sub.add_parser("predict", help="class probabilities for new inputs from a saved model or a run directory")
    pr.add_argument("model", help="a saved model directory (SemiSupervisedClassifier.save) or a run directory")
    pr.add_argument("input", help="an .npy array, an .npz (array x, x_test or its only array), or a folder of images")
    pr.add_argument("--out", default="predictions.csv", help="CSV: id, predicted class, one probability per class")
    pr.add_argument("--device", default="auto", help="auto, cpu or cuda")
    pr.set_defaults(func=cmd_predict)


def add_reproduce_parser(sub) -> None:
    """`ssvae reproduce`'s options."""
    r = sub.add_parser("reproduce", help="the paper's Tables 1-3 and Figures 2-4: train, evaluate, report")
    r.add_argument("--table", default="all", help="1, 2, 3, a comma list, or all")
    r.add_argument(
        "--datasets",
        default="fashion-mnist,kmnist,cifar10,svhn",
        help="comma list; those that cannot be loaded are skipped",
    )
    r.add_argument(
        "--models",
        default="m2,adgm,lvae,classifier",
        help="comma list: only these rows of the tables (each with and without MIER); e.g. one slice per machine",
    )
    r.add_argument(
        "--no-baselines",
        dest="baselines",
        action="store_false",
        help="skip the scikit-learn rows (CPU work; e.g. on a GPU machine); a later rerun without it adds them",
    )
    r.add_argument("--no-figures", action="store_true", help="tables only: no per-run or report figures")
    r.add_argument("--seeds", type=int, default=3, help="number of seeds (0..N-1); each draws its own labeled set")
    r.add_argument("--data-dir", default=None, help="folder with <name>.npz, or torchvision's download cache")
    r.add_argument("--out", required=True, help="results folder: run directories, tables, figures; rerun to resume")
    r.add_argument("--epochs", type=int, default=1000, help="epochs per run (the paper's protocol)")
    r.add_argument("--warmup-epochs", type=int, default=None, help="default 200, or a fifth of --epochs if shorter")
    r.add_argument("--labels-per-class", type=int, default=100, help="for Tables 1 and 2")
    r.add_argument("--labels-ablation", default="100,250,500", help="Table 3's labels per class")
    r.add_argument("--iw-samples", type=int, default=1000, help="IWAE samples per class for Table 2")
    run_settings = ("eval_every", "precision", "compile", "cuda_graphs", "device")
    for name in (*run_settings, "features", "feature_epochs", "feature_code"):
        add_setting(r, name)
    add_grid_run_args(r)
    r.set_defaults(func=cmd_reproduce)


def add_sweep_parser(sub) -> None:
    """`ssvae sweep`'s options."""
    sw = sub.add_parser("sweep", help="train a grid of runs from a TOML file, here or on a Ray cluster")
    sw.add_argument("grid", help="a grid file (TOML), or a shipped grid: example, table1, table3")
    sw.add_argument("--out", default=None, help="folder for the run directories and sweep.md; rerun to resume")
    sw.add_argument("--show", action="store_true", help="print the shipped grid GRID (to copy and edit) and exit")
    sw.add_argument("--data-dir", default=None, help="folder of the data sets, over the grid file's data_dir")
    sw.add_argument("--device", default=None, help="auto, cpu or cuda, over the grid file's device")
    sw.add_argument("--iw-samples", type=int, default=None, help="IWAE samples per class (default: the grid's, or 0)")
    sw.add_argument("--no-figures", action="store_true", help="metrics only: no per-run figures")
    add_grid_run_args(sw)
    sw.set_defaults(func=cmd_sweep)


def add_report_parser(sub) -> None:
    """`ssvae report`'s options."""
    rp = sub.add_parser("report", help="rebuild tables and figures from finished runs, without training")
    rp.add_argument("dir", help="a results directory of `ssvae reproduce`, or any folder of run directories")
    rp.add_argument("--data-dir", default=None, help="where the data sets are now (for the figures)")
    rp.add_argument("--no-figures", action="store_true", help="tables only")
    rp.set_defaults(func=cmd_report)


def main(argv: list[str] | None = None) -> int:
    """The `ssvae` command: its exit status (2 and one line on stderr for input it refuses)."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = argv  # the command as typed, recorded with results
    shown, warnings.showwarning = warnings.showwarning, one_line_warning
    try:
        args.func(args)
    except SSVAEError as e:
        print(f"ssvae: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ssvae: interrupted; rerun the same command to resume from the last checkpoint", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = shown
    return 0


def one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A library's warning as one line, as ssvae's own (PIL's and others' run over two or more)."""
    text = str(message).strip().splitlines()
    print(f"ssvae: warning: {category.__name__}: {text[0] if text else ''}", file=file or sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
