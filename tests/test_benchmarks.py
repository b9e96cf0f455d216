"""The speed benchmark runs (a smoke test: one timed step per mode, no numbers asserted beyond sanity)."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import speed  # noqa: E402


def test_speed_benchmark_modes_run():
    cpu = torch.device("cpu")
    one = speed.bench("lvae", "fp32", cpu, steps=1)
    stacked = speed.bench_stacked("lvae", "fp32", cpu, steps=1, runs=2)
    assert one["per_step"] > 0 and stacked["per_step"] > 0
    assert stacked["flops"] > 1.5 * one["flops"]  # two runs' worth of work in the stacked step
    assert speed.matmul_rate(cpu, torch.float32, 64, 64, 64) > 0


@pytest.mark.slow
def test_cpu_step_before_after_runs_against_a_commit():
    """benchmarks/cpu_step.py end to end on the smallest setting: 'before' from a git worktree of HEAD, 'after'
    and the three take-back variants from this tree, one table row each; the worktree is removed afterwards."""
    import subprocess

    root = Path(__file__).parents[1]
    if subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True).returncode:
        import pytest

        pytest.skip("not a git checkout")
    worktrees = ["git", "-C", str(root), "worktree", "list"]
    before = subprocess.run(worktrees, capture_output=True, text=True).stdout
    cmd = [sys.executable, str(root / "benchmarks" / "cpu_step.py"), "--rounds", "1", "--steps", "1"]
    cmd += ["--models", "lvae", "--precisions", "fp32", "--threads", "1", "--before", "HEAD"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = [line for line in out.splitlines() if line.startswith("| lvae | fp32 |")]
    assert [r.split(" | ")[2] for r in rows] == list(__import__("cpu_step").VARIANTS)
    assert rows[0].endswith("| 1.00 (1.00-1.00) |")  # 'before' against itself
    assert all(float(r.split(" | ")[3]) > 0 for r in rows)
    assert subprocess.run(worktrees, capture_output=True, text=True).stdout == before


def test_paired_differences_match_by_seed(tmp_path, capsys, monkeypatch):
    """benchmarks/paired.py: A - B per seed, only seeds both sides have, with the reports' statistics."""
    import json

    import paired

    for side, accs in (("a", {0: 70.0, 1: 72.5, 2: 71.0}), ("b", {0: 69.0, 1: 70.5, 3: 50.0})):
        for seed, acc in accs.items():
            run = tmp_path / side / f"seed{seed}"
            run.mkdir(parents=True)
            metrics = {"seed": seed, "epochs": 1, "best": {"test_accuracy": acc}, "last": {"test_accuracy": acc - 1}}
            (run / "metrics.json").write_text(json.dumps(metrics))
    monkeypatch.setattr(sys, "argv", ["paired.py", str(tmp_path / "a" / "seed*"), str(tmp_path / "b" / "seed*")])
    paired.main()
    out = capsys.readouterr().out
    assert "seed 0: A 70.00  B 69.00  A - B +1.00" in out and "seed 1: A 72.50  B 70.50  A - B +2.00" in out
    assert "left out (one side only): seeds [2, 3]" in out
    assert "A - B (best): 1.50 ± 0.71 [-4.85, 7.85] n=2: no significant difference" in out


def test_label_curve_plots_means_over_seeds_per_label_count(tmp_path, capsys, monkeypatch):
    """benchmarks/label_curve.py: {n} filled per label count, mean of the seeds found, a count without runs left out."""
    import json

    import label_curve

    for n, accs in ((10, [60.0, 62.0]), (100, [80.0, 81.0, 82.0])):
        for seed, acc in enumerate(accs):
            run = tmp_path / f"n{n}" / f"seed{seed}"
            run.mkdir(parents=True)
            metrics = {"seed": seed, "epochs": 1, "best": {"test_accuracy": acc}, "last": {"test_accuracy": acc - 5}}
            (run / "metrics.json").write_text(json.dumps(metrics))
    fig = tmp_path / "curve.png"
    argv = ["label_curve.py", "--out", str(fig), "--labels", "10", "30", "100"]
    monkeypatch.setattr(sys, "argv", [*argv, "--series", "m", str(tmp_path / "n{n}" / "seed*")])
    label_curve.main()
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| m |")][0]
    cells = [c.strip() for c in row.split("|")[2:-1]]
    assert cells[0].startswith("61.00 ± 1.41") and cells[1] == "–" and cells[2].startswith("81.00 ± 1.00")
    assert fig.stat().st_size > 1000
    # --series-at: at 10 labels per class the series reads another pattern in place of its own (not beside it)
    other = tmp_path / "other" / "n10" / "seed5"
    other.mkdir(parents=True)
    (other / "metrics.json").write_text(json.dumps({"seed": 5, "epochs": 1, "best": {"test_accuracy": 50.0}}))
    at = ["--series-at", "10", "m", str(tmp_path / "other" / "n{n}" / "seed*")]
    monkeypatch.setattr(sys, "argv", [*argv, "--series", "m", str(tmp_path / "n{n}" / "seed*"), *at])
    label_curve.main()
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| m |")][0]
    cells = [c.strip() for c in row.split("|")[2:-1]]
    assert cells[0] == "50.00 (1 seed)" and cells[2].startswith("81.00 ± 1.00")
    series = ["--series", "m", str(tmp_path / "n{n}" / "seed*")]
    monkeypatch.setattr(sys, "argv", [*argv, *series, "--series-at", "10", "x", "p"])
    with pytest.raises(SystemExit):
        label_curve.main()


def test_fit_time_benchmark_prints_each_method_with_its_ratio_to_label_spreading(tmp_path):
    """benchmarks/fit_time.py end to end on digits with a one-epoch estimator: one row per method, accuracies in
    range, label spreading's ratio 1.0, the JSON beside with the machine it ran on."""
    import json
    import subprocess

    root = Path(__file__).parents[1]
    cmd = [
        sys.executable,
        str(root / "benchmarks" / "fit_time.py"),
        "--dataset",
        "digits",
        "--json",
        str(tmp_path / "t.json"),
    ]
    cmd += ["--set", "epochs=1", 'device="cpu"', "hidden=16", "z_dim=4", "classifier_hidden=16"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line][1:]
    from ssvae.evaluation.baselines import BASELINES, installed

    assert len(rows) == 1 + sum(installed(b) for b in BASELINES) and "epochs=1" in rows[0], out
    spreading = next(r for r in rows if "label spreading" in r)
    assert spreading.endswith("| 1.0 |")
    saved = json.loads((tmp_path / "t.json").read_text())
    assert all(0 <= r["accuracy"] <= 100 and r["seconds"] > 0 for r in saved["rows"])
    assert saved["machine"].endswith(" threads") and saved["machine"] in out  # every time in it is that machine's
    ours = saved["rows"][0]  # the estimator's own training, a part of its wall time
    assert ours["method"] == "ssvae" and 0 < ours["model_seconds"] < ours["seconds"]


def test_pack_small_keeps_what_a_report_needs_and_no_checkpoint(tmp_path):
    """benchmarks/pack_small.py (what comes back from a borrowed GPU): each run's config, split, history and
    metrics, the grid's record and the report's tables, relative to the root; never a checkpoint or an exported
    model; only the folders asked for."""
    import tarfile

    import pack_small

    run = tmp_path / "paper" / "runs" / "fashion-mnist" / "m2" / "n100" / "seed0"
    (run / "model-best").mkdir(parents=True)
    for name in ("config.json", "split.npz", "metrics.jsonl", "metrics.json", "last.pt", "best.pt"):
        (run / name).write_bytes(b"x")
    (run / "model-best" / "model.safetensors").write_bytes(b"x")
    for name in ("grid.json", "table1.md", "table1.csv", "README.md", "mi_entropy.png"):
        (tmp_path / "paper" / name).write_bytes(b"x")
    (tmp_path / "check").mkdir()
    (tmp_path / "check" / "summary.md").write_bytes(b"x")
    assert pack_small.pack(tmp_path / "p.tgz", tmp_path, ["paper"]) == 8
    with tarfile.open(tmp_path / "p.tgz") as tar:
        names = set(tar.getnames())
    kept = {f"{run.relative_to(tmp_path)}/{n}" for n in ("config.json", "split.npz", "metrics.jsonl", "metrics.json")}
    assert names == kept | {f"paper/{n}" for n in ("grid.json", "table1.md", "table1.csv", "README.md")}


def test_curve_summary_gathers_a_baselines_seeds_over_the_roots(tmp_path):
    """benchmarks/curve_summary.py: a baseline whose seeds lie in two results folders (seeds 0-2 in one, 3-4 added
    later in another) is scored on all five; one missing a seed of the default's is left out; a seed in both
    roots is taken from the first."""
    import json

    import curve_summary

    def write(root, slug, seed, accuracy):
        run = tmp_path / root / slug / "n10" / f"seed{seed}"
        run.mkdir(parents=True)
        metrics = {"seed": seed, "epochs": 1, "best": {"test_accuracy": 0.0}, "last": {"test_accuracy": accuracy}}
        (run / "metrics.json").write_text(json.dumps(metrics))

    for seed in (0, 1, 2):
        write("old", "graph-poisson", seed, 60.0 + seed)
        write("old", "sklearn-logreg", seed, 50.0)
    for seed in (2, 3, 4):
        write("new", "graph-poisson", seed, 70.0 + seed)
    found = curve_summary.baselines_at([tmp_path / "old", tmp_path / "new"], 10, [0, 1, 2, 3, 4])
    assert found == {"graph-poisson": {0: 60.0, 1: 61.0, 2: 62.0, 3: 73.0, 4: 74.0}}
    assert set(curve_summary.baselines_at([tmp_path / "old"], 10, [0, 1, 2])) == {"graph-poisson", "sklearn-logreg"}


def test_small_tables_table_pairs_rows_across_files_and_keeps_the_tables_asked_for(tmp_path):
    """benchmarks/small_tables.py --table: the rows of several files paired by split (table, fraction, seed), the
    difference against the previous defaults and the best baseline of each split, other tables left out."""
    import json

    import small_tables

    def row(table, seed, method, accuracy):
        return json.dumps(
            {"table": table, "fraction": 0.1, "seed": seed, "method": method, "accuracy": accuracy, "seconds": 1.0}
        )

    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(
        "\n".join(
            [
                row("digits", 0, "previous defaults", 90.0),
                row("digits", 1, "previous defaults", 92.0),
                row("digits", 0, "scikit-learn logreg", 89.0),
                row("digits", 1, "scikit-learn logreg", 93.0),
                row("iris", 0, "previous defaults", 10.0),
            ]
        )
        + "\n"
    )
    second.write_text(
        "\n".join(
            [row("digits", 0, "defaults", 91.0), row("digits", 1, "defaults", 95.0), row("iris", 0, "defaults", 50.0)]
        )
        + "\n"
    )
    out = small_tables.table([first, second], ["digits"])
    assert "iris" not in out and "| digits | 10% | 91.00 | 91.00 | 93.00 |" in out
    against_previous = [line for line in out.splitlines() if line.startswith("| minus the previous defaults")][0]
    assert against_previous.split("|")[3].strip().startswith("2.00 ± 1.41") and "n=2" in against_previous
    against_best = [line for line in out.splitlines() if line.startswith("| minus the best baseline")][0]
    assert against_best.split("|")[3].strip().startswith("2.00 ± 0.00")  # 91 - 89 and 95 - 93
