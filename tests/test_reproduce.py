"""`ssvae reproduce` and `ssvae report` end to end on digits: grid, pairing, resumption, tables, figures."""

import csv
from pathlib import Path

import numpy as np
import pytest
from conftest import DEVICE

from ssvae.cli import main
from ssvae.evaluation.baselines import ALL_BASELINES
from ssvae.experiments.reproduce import RunSpec, grid
from ssvae.experiments.tables import summarize
from ssvae.records import rundir as ck


def test_grid_shares_splits_and_dedupes():
    specs = grid({1, 2, 3}, ["fashion-mnist"], seeds=2, labels=100, ablation=[100, 250, 500])
    # Table 1: 3 models x 2 objectives + supervised-only; Table 3 adds M2 at 250 and 500: per seed 7 + 4
    assert len(specs) == 2 * (7 + 4) and len(set(specs)) == len(specs)
    assert RunSpec("fashion-mnist", "m2", True, 100, 1) in specs
    # baseline and MIER of one seed differ only in `mier`: same dataset, labels and seed -> same split
    assert (
        RunSpec("fashion-mnist", "m2", False, 100, 1).path.replace("m2/", "m2-mier/")
        == RunSpec("fashion-mnist", "m2", True, 100, 1).path
    )


def test_grid_models_keeps_only_those_rows():
    every = grid({1, 2, 3}, ["fashion-mnist"], seeds=2, labels=100, ablation=[100, 250])
    some = grid({1, 2, 3}, ["fashion-mnist"], seeds=2, labels=100, ablation=[100, 250], models=("m2", "classifier"))
    assert some == [s for s in every if s.model in ("m2", "classifier")]
    assert {s.model for s in some} == {"m2", "classifier"} and any(s.labels == 250 for s in some)
    assert grid({1}, ["fashion-mnist"], 1, 10, [], models=("lvae",)) == [
        RunSpec("fashion-mnist", "lvae", False, 10, 0),
        RunSpec("fashion-mnist", "lvae", True, 10, 0),
    ]


@pytest.mark.parametrize("bad", ["m3", "", "m2,,vae"])
def test_reproduce_refuses_unknown_models(bad, tmp_path, capsys):
    assert main(["reproduce", "--models", bad, "--datasets", "digits", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--models" in err[0]
    assert not (tmp_path / "o").exists()


def test_summary_statistics_by_hand():
    s = summarize([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["std"] == pytest.approx(1.0)
    half = 4.302652729911275 * 1.0 / np.sqrt(3)  # t_{0.975, 2}
    assert (s["lo"], s["hi"]) == pytest.approx((2.0 - half, 2.0 + half))
    assert np.isnan(summarize([5.0])["std"])


@pytest.mark.slow
def test_reproduce_then_report(tmp_path, capsys):
    out = tmp_path / "res"
    args = [
        "reproduce",
        "--datasets",
        "digits,nosuch",
        "--seeds",
        "2",
        "--epochs",
        "1",
        "--labels-per-class",
        "10",
        "--labels-ablation",
        "5,10",
        "--iw-samples",
        "3",
        "--device",
        DEVICE,
        "--out",
        str(out),
    ]
    assert main(args) == 0
    runs = sorted(p.parent for p in (out / "runs").rglob("metrics.json") if p.parents[2].name not in ALL_BASELINES)
    assert len(runs) == 2 * (7 + 2)
    for f in (
        "table1.md",
        "table2.md",
        "table3.md",
        "table1.csv",
        "table2.csv",
        "table3.csv",
        "README.md",
        "fig2_recon.png",
        "fig3_samples.png",
        "fig4_tsne.png",
        "mi_entropy.png",
    ):
        assert (out / f).exists(), f
    t1 = (out / "table1.md").read_text()
    assert "| M2+MIER |" in t1 and "| supervised only |" in t1 and "MIER − baseline" in t1 and "±" in t1
    rows = list(csv.DictReader(open(out / "table1.csv")))
    m2 = [r for r in rows if r["model"] == "m2" and r["mier"] == "False" and r["checkpoint"] == "best"]
    accs = [
        ck.read_json(out / "runs" / f"digits/m2/n10/seed{s}" / "metrics.json")["best"]["test_accuracy"] for s in (0, 1)
    ]
    assert float(m2[0]["mean"]) == pytest.approx(np.mean(accs)) and m2[0]["n"] == "2"
    # same seed -> same split for baseline and MIER (the pairing); different seeds -> different labeled sets
    split = {
        (m, s): np.load(out / "runs" / f"digits/{m}/n10/seed{s}/split.npz")["labeled"]
        for m in ("m2", "m2-mier")
        for s in (0, 1)
    }
    assert np.array_equal(split["m2", 0], split["m2-mier", 0])
    assert not np.array_equal(split["m2", 0], split["m2", 1])
    # scikit-learn baselines on exactly the runs' splits, one small run directory each, in the tables
    for slug in ("sklearn-logreg", "sklearn-labelspreading", "sklearn-selftraining"):
        for s in (0, 1):
            b = out / "runs" / f"digits/{slug}/n10/seed{s}"
            assert np.array_equal(np.load(b / "split.npz")["labeled"], split["m2", s])
            assert 10 < ck.read_json(b / "metrics.json")["best"]["test_accuracy"] <= 100
    assert "| scikit-learn label spreading (knn, k=10) |" in t1 and "best baseline" in t1
    assert "on M1's code" not in t1  # no feature stage in this grid: no empty rows for its baselines
    logreg = [r for r in rows if r["model"] == "sklearn-logreg" and r["checkpoint"] == "best"][0]
    direct = [ck.read_json(out / "runs" / f"digits/sklearn-logreg/n10/seed{s}/metrics.json") for s in (0, 1)]
    assert float(logreg["mean"]) == pytest.approx(np.mean([m["best"]["test_accuracy"] for m in direct]))
    # rerunning resumes: nothing is trained again
    stamp = {r: (r / "last.pt").stat().st_mtime_ns for r in runs}
    assert main(args) == 0
    assert all((r / "last.pt").stat().st_mtime_ns == stamp[r] for r in runs)
    # report rebuilds from the run directories alone
    (out / "table1.md").unlink()
    assert main(["report", str(out), "--no-figures"]) == 0
    assert (out / "table1.md").read_text() == t1
    readme = (out / "README.md").read_text()
    assert "Command: `ssvae reproduce --datasets digits,nosuch --seeds 2" in readme  # the command as typed
    assert "Not in this grid: cifar10, fashion-mnist, kmnist, svhn" in readme
    assert "- nosuch: unknown dataset 'nosuch'" in readme  # a data set that cannot be loaded is skipped, and said
    # results kept as small files only (what gets committed): no checkpoints, no splits, no exported models
    import shutil

    small = tmp_path / "small"
    shutil.copytree(out, small, ignore=shutil.ignore_patterns("*.pt", "split.npz", "model-*", "*.png"))
    assert main(["report", str(small)]) == 0
    assert (small / "table1.md").read_text() == t1
    assert main([*args[:-1], str(small)]) == 0  # reproduce counts them as done: nothing trains again
    assert not list(small.rglob("*.pt"))


def test_report_of_nothing_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no finished runs" in capsys.readouterr().err


@pytest.mark.slow
def test_reproduce_in_time_limited_chunks_equals_one_go(tmp_path, capsys):
    """`reproduce --time-limit`: each command trains what fits (at least one epoch), says how far the grid is,
    evaluates only finished runs; repeated, it ends with the same metrics as one uninterrupted command."""
    args = ["reproduce", "--table", "3", "--datasets", "digits", "--seeds", "1", "--epochs", "2"]
    args += ["--labels-per-class", "10", "--labels-ablation", "10", "--device", DEVICE, "--eval-every", "1"]
    args += ["--jobs", "1"]  # one run at a time: one epoch per command (each parallel job would do one)
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    lines = []
    for _ in range(6):
        capsys.readouterr()
        assert main([*args, "--out", str(tmp_path / "chunks"), "--time-limit", "0.001"]) == 0
        out = capsys.readouterr().out.strip().splitlines()
        if not any("run-epochs done" in line for line in out):
            break
        lines.append(out[-1])
    # two runs (M2, M2+MIER) of two epochs, one epoch per command, the last command finishing and reporting; on a
    # GPU the two train in one stacked step, so each command does one epoch of both
    per_command = 2 if DEVICE.startswith("cuda") else 1
    expected = [
        f"{n} of 4 run-epochs done; run the same command again to continue" for n in range(per_command, 4, per_command)
    ]
    assert lines == expected
    for run in ("m2/n10/seed0", "m2-mier/n10/seed0"):
        a, b = (ck.read_json(tmp_path / d / "runs" / "digits" / run / ck.METRICS) for d in ("whole", "chunks"))
        assert a["best"]["test_accuracy"] == b["best"]["test_accuracy"]
        assert a["last"]["test_elbo"] == b["last"]["test_elbo"]


def test_paper_column_only_at_the_papers_label_count():
    """Tables 1-2 of the paper are at 100 labels per class: a grid at 10 shows no paper number beside its own."""
    from ssvae.experiments import paper
    from ssvae.experiments.collect import Index, Record
    from ssvae.experiments.report import table1

    def rec(mier, seed, acc):
        m = {c: {"test_accuracy": acc} for c in ("best", "last")}
        return Record("fashion-mnist", "m2", mier, labels, seed, m, [], Path("."), {})

    for labels, shown in ((100, f"{paper.TABLE1[('m2', False)]['fashion-mnist']:.2f}"), (10, "–")):
        ix = Index([rec(False, 0, 70.0), rec(True, 0, 71.0), rec(False, 1, 72.0), rec(True, 1, 74.0)])
        text, findings = table1(ix, ["fashion-mnist"], labels, [])
        m2_row = next(line for line in text.splitlines() if line.startswith("| M2 |"))
        assert m2_row.endswith(f"| {shown} |"), m2_row
        assert ("paper 1.39" in " ".join(findings)) == (labels == 100)


def test_verdict_needs_a_spread():
    """Two seeds with the same difference give a zero-width interval; that is no evidence of a difference."""
    from ssvae.experiments.tables import verdict

    assert verdict(summarize([0.08, 0.08]), "better", "worse") == "the same difference on every seed: no interval"
    assert verdict(summarize([0.5, 0.6, 0.7]), "better", "worse") == "better"
    assert verdict(summarize([-0.5, -0.6, -0.7]), "better", "worse") == "worse"
    assert verdict(summarize([-0.5, 0.6, 0.1]), "better", "worse") == "no significant difference"


@pytest.mark.slow
def test_reproduce_with_a_feature_stage_shares_it_and_adds_the_baselines_on_its_code(tmp_path, capsys):
    out = tmp_path / "res"
    args = ["reproduce", "--table", "1", "--datasets", "digits", "--models", "m2,classifier", "--seeds", "1"]
    args += ["--epochs", "1", "--labels-per-class", "10", "--iw-samples", "0", "--device", DEVICE, "--no-figures"]
    args += ["--features", "m1", "--feature-epochs", "2", "--out", str(out)]
    assert main(args) == 0
    assert len(list((out / "features").iterdir())) == 1  # one stage for the three runs of seed 0
    runs = [out / "runs" / "digits" / v / "n10" / "seed0" for v in ("m2", "m2-mier", "classifier")]
    assert all((r / ck.FEATURE_STAGE / "stage.pt").exists() for r in runs)
    for slug in ("m1-sklearn-logreg", "m1-sklearn-labelspreading", "m1-sklearn-selftraining"):
        assert (out / "runs" / "digits" / slug / "n10" / "seed0" / ck.METRICS).exists(), slug
    t1 = (out / "table1.md").read_text()
    assert "logistic regression (labels only) on M1's code" in t1


def test_reproduce_hands_the_enumeration_to_the_generative_rows_only(tmp_path, monkeypatch):
    """`ssvae reproduce --enumerate-top k` trains every generative row with it; the supervised-only rows, which
    enumerate nothing, keep the default (so their run identity does not change)."""
    import ssvae.experiments.reproduce as rp
    from ssvae.training.config import TrainConfig

    seen = []
    monkeypatch.setattr(rp, "run_points", lambda points, *a, **k: seen.extend(points))
    specs = grid({1}, ["digits"], seeds=1, labels=10, ablation=[], models=("m2", "classifier"))
    rp.run_grid(specs, tmp_path, TrainConfig(enumerate_top=2), iw_samples=0, baselines=False)
    tops = {(p.cfg.model, p.cfg.mier): p.cfg.enumerate_top for p in seen}
    assert tops == {("m2", False): 2, ("m2", True): 2, ("classifier", False): 0}
