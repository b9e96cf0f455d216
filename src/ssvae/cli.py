"""`ssvae` command line: demo, train, evaluate, predict, reproduce, sweep, report. Each command is a short adapter
over a library function; errors in the user's input print one line and exit with status 2."""

from __future__ import annotations

import argparse
import shlex
import sys
import warnings
from pathlib import Path

from .errors import SSVAEError
from .flags import (
    HelpWithDefaults,
    Parser,
    add_grid_run_args,
    add_setting,
    add_train_args,
    config_from_args,
    engine_options,
    watch_of,
)


def cmd_train(a: argparse.Namespace) -> None:
    """`ssvae train`: one run (or one per seed) into `--out`, resumed when it is already there."""
    from .records import rundir as ck
    from .training.budget import TimeBudget
    from .training.loop import seeds_configs, train_many

    cfg = config_from_args(a)
    budget, watch = TimeBudget(a.time_limit), watch_of(a, Path(a.out).parent)
    if a.labels_per_class is not None and (cfg.dataset.endswith(".npz") or Path(cfg.dataset).exists()):
        import dataclasses

        from .data import load_dataset
        from .training.config import source_options

        if load_dataset(cfg.dataset, **source_options(dataclasses.asdict(cfg))).partially_labeled:
            raise SSVAEError(
                f"{cfg.dataset} marks its unlabeled examples with -1, so it keeps its own labels: "
                "drop --labels-per-class"
            )
    cfgs, outs = seeds_configs(cfg, a.seeds, a.out) if a.seeds else ([cfg], [a.out])
    if a.restart:  # the flags were checked above, before anything is discarded
        for out in outs:
            ck.clear_run(Path(out))
    outcomes = train_many(cfgs, outs, progress=watch, budget=budget, jobs=a.jobs)
    if budget.stopped:
        print(budget.summary())
        return
    for o in outcomes:
        acc = "" if o.last["val_accuracy"] is None else f", val accuracy {o.last['val_accuracy']:.2f}%"
        print(f"trained {o.out}: epoch {o.epoch}{acc}; next: ssvae evaluate {o.out}, or ssvae predict {o.out} INPUT")


def cmd_demo(a: argparse.Namespace) -> None:
    """`ssvae demo`: supervised-only, M2 and M2+MIER on scikit-learn's bundled digits (`experiments.demo`)."""
    from .experiments.demo import run_demo

    run_demo(Path(a.out), a.labels_per_class, a.epochs, a.seed, a.device, a.features)


def cmd_evaluate(a: argparse.Namespace) -> None:
    """`ssvae evaluate`: a finished run's test numbers for its kept and its last model, and its figures."""
    from .evaluation.evaluate import evaluate_run
    from .experiments.tables import format_table

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


def cmd_reproduce(a: argparse.Namespace) -> None:
    """`ssvae reproduce`: the paper's grid through the sweep engine, its baselines, then the report."""
    from .data import resolve_device
    from .experiments import reproduce as rp
    from .experiments.engines import check_engine
    from .experiments.report import build_report
    from .records import rundir as ck
    from .training.budget import TimeBudget

    tables, models, ablation = rp.parse_tables(a.table), rp.parse_models(a.models), rp.parse_ablation(a.labels_ablation)
    budget, out, device = TimeBudget(a.time_limit), Path(a.out), resolve_device(a.device)
    ck.check_run_dir_path(out)
    watch = watch_of(a, out / "runs", lines_only=True)
    warmup = rp.default_warmup(a.warmup_epochs, a.epochs)
    settings = dict(epochs=a.epochs, warmup_epochs=warmup, precision=a.precision, compile=a.compile)
    settings.update(cuda_graphs=a.cuda_graphs)
    settings.update(features=a.features, feature_epochs=a.feature_epochs, feature_code=a.feature_code)
    settings.update(teacher=a.teacher, enumerate_top=a.enumerate_top)
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


def cmd_sweep(a: argparse.Namespace) -> None:
    """`ssvae sweep`: a grid file's runs through an engine, then `sweep.md` and `sweep.csv`."""
    from .experiments.engines import check_engine, run_points
    from .experiments.grid import SHIPPED, load_grid_arg, points_of, run_epochs_done, shipped_text
    from .experiments.reproduce import loadable
    from .experiments.sweep import sweep_record, sweep_table
    from .records import rundir as ck
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
    sweep_record(out, "ssvae " + shlex.join(a.argv), grid.source, len(points), a.engine, merged)
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
    from .experiments.demo import DEMO_EPOCHS

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
    for name in (*run_settings, "features", "feature_epochs", "feature_code", "teacher", "enumerate_top"):
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
