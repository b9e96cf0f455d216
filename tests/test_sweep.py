"""`ssvae sweep`: grids as data, one line for a bad grid, and the same results from the local and the Ray engine."""

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from conftest import local_reference, metrics_of

from ssvae.cli import main
from ssvae.errors import SSVAEError
from ssvae.experiments.engines import run_points
from ssvae.experiments.grid import groups_of, parse_grid, points_of, read_grid, shipped_grid
from ssvae.experiments.report import build_report
from ssvae.experiments.reproduce import grid
from ssvae.records import rundir as ck
from ssvae.training.config import TrainConfig, effective, idle_settings

TINY = """
seeds = [0, 1]
[fixed]
dataset = "digits"
model = "m2"
epochs = 2
warmup_epochs = 1
batch_size = 100
labeled_batch_size = 100
device = "cpu"
precision = "fp32"
compile = "off"
[grid]
labels_per_class = [5, 10]
mier = [false, true]
"""


def tiny_points(tmp_path, text=TINY, iw=0):
    path = tmp_path / "grid.toml"
    path.write_text(text)
    g = read_grid(path)
    return points_of(g.configs(), g.varied(), iw)


def test_expansion_is_the_product_times_seeds_plus_points():
    g = parse_grid(
        {"seeds": 3, "fixed": {"epochs": 5}, "grid": {"beta": [1, 2.5], "mier": [True]}, "points": [{"mier": False}]}
    )
    cfgs = g.configs()
    assert len(cfgs) == 3 * (2 + 1)
    assert [(c.seed, c.mier, c.beta) for c in cfgs[:3]] == [(0, True, 1.0), (0, True, 2.5), (0, False, 5.0)]
    assert all(c.epochs == 5 for c in cfgs) and {c.seed for c in cfgs} == {0, 1, 2}
    paths = [p.path for p in points_of(cfgs, g.varied(), 0)]
    assert paths[:3] == [
        "fashion-mnist/m2-mier/n100/beta=1.0/seed0",
        "fashion-mnist/m2-mier/n100/beta=2.5/seed0",
        "fashion-mnist/m2/n100/seed0",  # beta means nothing without MIER: not in its name
    ]
    assert len(set(paths)) == len(paths)
    # differing only in seed and MIER's weights: one stacked group
    assert [len(g) for g in groups_of(points_of(cfgs, g.varied(), 0))] == [9]


def test_effective_settings_put_only_idle_settings_back_at_their_defaults():
    idle = TrainConfig(mier=False, beta=1.0, gamma=3.0, features="none", feature_epochs=7, feature_code="sample")
    assert idle_settings(idle) == ["feature_epochs", "feature_code", "beta", "gamma"]
    e = effective(idle)
    assert (e.beta, e.gamma, e.feature_epochs, e.feature_code) == (5.0, 1.0, 100, "mean") and e.mier is False
    on = TrainConfig(mier=True, beta=1.0, gamma=3.0, features="m1", feature_epochs=7, feature_code="sample")
    assert effective(on) == on and idle_settings(on) == []
    assert effective(TrainConfig()) == TrainConfig()


ISSUE_36 = {
    "seeds": 2,
    "fixed": {"dataset": "digits", "model": "m2", "labels_per_class": 10, "epochs": 2, "warmup_epochs": 1},
    "grid": {"mier": [True, False], "beta": [1.0, 5.0]},
}


def test_points_that_train_the_same_run_are_one_run_and_named_as_merged():
    """MIER on/off x beta 1/5: plain M2 at beta 1 and at beta 5 train the same thing: 3 runs a seed, not 4."""
    g = parse_grid(ISSUE_36)
    cfgs = g.configs()
    assert len(cfgs) == 6 and sorted((c.seed, c.mier, c.beta) for c in cfgs) == sorted(
        (s, m, b) for s in (0, 1) for m, b in ((True, 1.0), (True, 5.0), (False, 5.0))
    )
    paths = [p.path for p in points_of(cfgs, g.varied(), 0)]
    assert len(set(paths)) == 6 and "digits/m2/n10/seed1" in paths
    assert g.merged() == ["mier = false, beta = 1.0 | mier = false, beta = 5.0: one run (beta: no effect there)"]
    assert parse_grid({**ISSUE_36, "grid": {"mier": [True], "beta": [1.0, 5.0]}}).merged() == []


def test_a_grid_whose_points_would_share_a_run_directory_is_refused_before_writing(tmp_path, capsys):
    """Two distinct runs whose values read the same in a folder name (a/b and a_b) would overwrite each other."""
    path = tmp_path / "grid.toml"
    path.write_text('[fixed]\ndataset = "digits"\n[grid]\ndata_dir = ["a/b", "a_b"]\n')
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'data_dir = "a/b", seed = 0' in err[0] and 'data_dir = "a_b", seed = 0' in err[0], err
    assert "share the run directory runs/digits/m2/n100/data_dir=a_b/seed0" in err[0]
    assert not (tmp_path / "out").exists()


def test_paper_tables_are_the_shipped_grids():
    """reproduce's grid comes from ssvae/grids/table1.toml and table3.toml: the paper's rows, each once."""
    t1 = shipped_grid("table1")
    assert t1.axes == {"model": ["m2", "adgm", "lvae"], "mier": [False, True]} and t1.points == [
        {"model": "classifier"}
    ]
    specs = grid({1, 3}, ["fashion-mnist"], seeds=1, labels=100, ablation=[100, 250])
    by_hand = [(m, mier, 100) for m in ("m2", "adgm", "lvae") for mier in (False, True)] + [("classifier", False, 100)]
    by_hand += [("m2", False, 250), ("m2", True, 250)]  # Table 3 at n=100 is Table 1's M2 pair
    assert [(s.model, s.mier, s.labels) for s in specs] == by_hand


BAD = [
    ("[grid]\nbetta = [1.0]\n", "betta"),
    ("[fixed]\nepochs = 'ten'\n", "epochs"),
    ("[fixed]\nepochs = true\n", "epochs"),
    ("[grid]\nbeta = []\n", "beta"),
    ("[grid]\nbeta = 2.0\n", "beta"),
    ("[grid]\nbeta = [-1.0]\n", "beta must be 0 or more, got -1.0 (at beta = -1.0)"),  # spelled as in the file
    ("[grid]\nlabels_per_class = [0, 10]\n", "labels_per_class must be at least 1, got 0"),
    ("[fixed]\nmodel = 'm3'\n", "m3"),
    ("[fixed]\nseed = 1\n", "seeds"),
    ("seeds = [1, 1]\n", "seeds"),
    ("seeds = 0\n", "seeds"),
    ("iw_samples = -5\n", "iw_samples"),
    ("epochs = 3\n", "epochs"),
    ("[grid\nbeta = [1]\n", "TOML"),
    ("[fixed]\ndataset = 'no-such-set'\n", "no-such-set"),
    ("[fixed]\nadam_betas = [0.9]\n", "adam_betas"),
]


@pytest.mark.parametrize("text,named", BAD)
def test_a_bad_grid_is_one_line_before_anything_trains(text, named, tmp_path, capsys):
    path = tmp_path / "grid.toml"
    path.write_text(text)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0] and err[0].startswith("ssvae: error: ") and "grid.toml" in err[0], err
    assert not (tmp_path / "out").exists()


def test_missing_grid_file_and_show(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")]) == 2
    assert "no such grid file" in capsys.readouterr().err
    assert main(["sweep", "example", "--show"]) == 0
    assert parse_grid(__import__("tomllib").loads(capsys.readouterr().out)).axes["beta"] == [1.0, 5.0]


@pytest.mark.slow
def test_cli_sweep_local_writes_runs_and_table_and_resumes_for_free(tmp_path, capsys):
    path = tmp_path / "grid.toml"
    path.write_text(TINY)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--jobs", "1"]) == 0
    table = (out / "sweep.md").read_text()
    assert table.count("| 2/2 |") == 4  # four points, two seeds each, all finished
    assert "| fashion" not in table and "| digits | m2 | True | 10 |" in table
    assert json.loads((out / "sweep.json").read_text())["runs"] == 8
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.pt")}
    capsys.readouterr()
    assert main(["sweep", str(path), "--out", str(out), "--jobs", "1"]) == 0  # finished: trains nothing
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.pt")} == stamps
    assert build_report(out, draw=False)  # `ssvae report` reads a sweep's output


def test_engine_ray_without_ray_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    path = tmp_path / "grid.toml"
    path.write_text(TINY)
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--engine", "ray"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ['ssvae: error: --engine ray needs Ray: pip install "ssvae[ray]"']


@pytest.mark.parametrize(
    "flags", [["--engine", "slurm"], ["--gpus-per-group", "-1"], ["--gpus-per-group", "x"], ["--cpus-per-group", "0"]]
)
def test_bad_engine_flags_are_one_usage_line(flags, tmp_path, capsys):
    path = tmp_path / "grid.toml"
    path.write_text(TINY)
    with pytest.raises(SystemExit) as e:
        main(["sweep", str(path), "--out", str(tmp_path / "o"), *flags])
    assert e.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_unknown_engine():
    with pytest.raises(SSVAEError, match="unknown engine"):
        run_points([], Path("."), engine="slurm")


# ---------------------------------------------------------------------------------------------------- Ray
@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_engine_equals_local_and_reruns_train_nothing(ray_local, tmp_path):
    points = tiny_points(tmp_path)
    assert len(groups_of(points)) == 2 and len(points) == 8  # 2 groups (label counts) x 2 seeds x +-MIER
    local = local_reference(points, tmp_path / "local")
    run_points(points, tmp_path / "ray", "ray", cpus_per_group=1)
    assert metrics_of(tmp_path / "ray", points) == local  # bit-identical on the CPU
    assert (tmp_path / "ray" / "ray" / "sweep").is_dir()  # Ray Tune's own records beside the runs
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "ray").rglob("*.pt")}
    run_points(points, tmp_path / "ray", "ray", cpus_per_group=1)  # finished: trains nothing
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "ray").rglob("*.pt")} == stamps
    assert build_report(tmp_path / "ray", draw=False)


@pytest.mark.slow
def test_ray_retries_a_trial_whose_worker_is_killed(ray_local, tmp_path):
    """kill -9 of the worker training a group mid-run: Ray retries the trial, which resumes the run from its
    atomic checkpoints and ends with the metrics of an uninterrupted run."""
    text = TINY.replace("epochs = 2", "epochs = 12").replace("seeds = [0, 1]", "seeds = [0]")
    text = text.replace("labels_per_class = [5, 10]", "labels_per_class = [10]").replace("[false, true]", "[true]")
    points = tiny_points(tmp_path, text)
    assert len(points) == 1
    local = local_reference(points, tmp_path / "local")
    run = points[0].run(tmp_path / "ray")
    killed: list[int] = []
    done = threading.Event()

    def killer() -> None:  # watches until it has killed once or the sweep is over (however slow the machine)
        while not done.is_set() and not killed:
            lines = len(ck.read_history(run / ck.HISTORY)) if (run / ck.HISTORY).exists() else 0
            if 1 <= lines < 12 and (run / ".lock").exists():
                pid = int((run / ".lock").read_text().strip() or 0)
                if pid and pid != os.getpid():
                    os.kill(pid, signal.SIGKILL)
                    killed.append(lines)
            time.sleep(0.02)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    try:
        run_points(points, tmp_path / "ray", "ray", cpus_per_group=1, max_failures=3)
    finally:
        done.set()
    t.join()
    assert killed and killed[0] < 12, "the worker was never caught mid-run"
    assert metrics_of(tmp_path / "ray", points) == local


@pytest.mark.slow
def test_reproduce_runs_its_grid_on_ray(ray_local, tmp_path):
    """`ssvae reproduce --engine ray`: the paper's grid through the same engine, as Ray trials."""
    out = tmp_path / "paper"
    args = ["reproduce", "--table", "1", "--datasets", "digits", "--seeds", "1", "--epochs", "1", "--models", "m2"]
    args += ["--labels-per-class", "10", "--device", "cpu", "--precision", "fp32", "--compile", "off"]
    args += ["--no-figures", "--no-baselines", "--engine", "ray", "--cpus-per-group", "1", "--out", str(out)]
    assert main(args) == 0
    assert (out / "ray" / "sweep").is_dir()  # Ray Tune's records: the group went through Ray
    assert {p.parents[2].name for p in (out / "runs").rglob(ck.METRICS)} == {"m2", "m2-mier"}
    assert "| M2+MIER |" in (out / "table1.md").read_text()


@pytest.mark.slow
def test_the_grid_of_issue_36_runs_under_both_engines_as_six_runs_with_the_same_results(ray_local, tmp_path, capsys):
    """MIER on/off x beta 1/5, two seeds: six runs, the merge named, under `ssvae sweep` with either engine, and
    the same metrics from both."""
    import tomllib

    path = tmp_path / "grid.toml"  # the grid as the issue gives it, on the CPU in fp32
    path.write_text(
        'seeds = 2\n[fixed]\ndataset = "digits"\nmodel = "m2"\nlabels_per_class = 10\nepochs = 2\n'
        'warmup_epochs = 1\ndevice = "cpu"\nprecision = "fp32"\ncompile = "off"\n'
        "[grid]\nmier = [true, false]\nbeta = [1.0, 5.0]\n"
    )
    g = parse_grid(tomllib.loads(path.read_text()))
    outs, threads = {}, torch.get_num_threads()
    for engine in ("local", "ray"):
        out = tmp_path / engine
        torch.set_num_threads(1)  # as each Ray trial (--cpus-per-group 1): the same bits
        try:
            assert main(["sweep", str(path), "--out", str(out), "--engine", engine, "--cpus-per-group", "1"]) == 0
        finally:
            torch.set_num_threads(threads)
        printed = capsys.readouterr().out
        assert "6 runs from" in printed and "merged mier = false, beta = 1.0 | mier = false, beta = 5.0" in printed
        assert len(list((out / "runs").rglob(ck.METRICS))) == 6
        assert "one run (beta: no effect there)" in (out / "sweep.md").read_text()
        outs[engine] = out
    points = points_of(g.configs(), g.varied(), 0)
    assert metrics_of(outs["ray"], points) == metrics_of(outs["local"], points)
