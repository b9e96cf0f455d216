"""Stacked runs (one vmapped step over R models) equal the same runs trained one by one."""

import pytest
import torch
from conftest import DEVICE, DIGITS_RUN
from safetensors.torch import load_file
from test_step import host_reads

from ssvae.records import rundir as ck
from ssvae.training.config import TrainConfig
from ssvae.training.loop import train_many
from ssvae.training.stacked import stackable

SMALL = dict(DIGITS_RUN, alpha=5.0, mier=True)
OPTS = {
    "m2": dict(hidden=32, classifier_hidden=32, z_dim=8),
    "adgm": dict(hidden=32, classifier_hidden=32, z_dim=8, a_dim=8),
    "lvae": dict(hidden=32, classifier_hidden=32),
}


def _compare(dir_a, dir_b, atol):
    ha, hb = ck.read_history(dir_a / "metrics.jsonl"), ck.read_history(dir_b / "metrics.jsonl")
    assert [r["epoch"] for r in ha] == [r["epoch"] for r in hb]
    for x, y in zip(ha, hb):
        assert x["val_accuracy"] == pytest.approx(y["val_accuracy"], abs=1.0)  # at most a validation image or so
        for k in x["train"]:
            assert x["train"][k] == pytest.approx(y["train"][k], rel=1e-4, abs=1e-4), k
    sa, sb = ck.load_checkpoint(dir_a / "last.pt"), ck.load_checkpoint(dir_b / "last.pt")
    for k in sa["model"]:
        torch.testing.assert_close(sa["model"][k], sb["model"][k], rtol=0, atol=atol)
    assert sa["step"] == sb["step"]
    # both paths export the last model as safetensors, equal to the checkpoint it came from
    for d, state in ((dir_a, sa), (dir_b, sb)):
        exported = load_file(d / "model-last" / "model.safetensors")
        assert exported.keys() == state["model"].keys()
        for k, v in exported.items():
            torch.testing.assert_close(v, state["model"][k], rtol=0, atol=0)


@pytest.mark.parametrize("model", ["m2", "adgm", "lvae"])
def test_stacked_equals_one_by_one(tmp_path, model):
    cfgs = [TrainConfig(model=model, epochs=2, seed=s, model_options=OPTS[model], **SMALL) for s in (0, 1, 2)]
    train_many(cfgs, [tmp_path / f"stacked{s}" for s in range(3)], stack=True, progress=False)
    train_many(cfgs, [tmp_path / f"single{s}" for s in range(3)], stack=False, progress=False)
    for s in range(3):
        _compare(tmp_path / f"stacked{s}", tmp_path / f"single{s}", atol=1e-4)


@pytest.mark.slow
def test_compiled_stacked_step_trains_like_eager(tmp_path, capsys):
    """--compile on (as --compile auto does on a GPU) through the vmapped step, forced on the CPU: it compiles
    (no fallback warning; the fused likelihood once made it fall back) and equals the eager stacked runs."""
    cfgs = {
        m: [
            TrainConfig(
                model="m2", epochs=1, seed=s, model_options=OPTS["m2"], **{**SMALL, "device": "cpu", "compile": m}
            )
            for s in (0, 1)
        ]
        for m in ("off", "on")
    }
    for m, cs in cfgs.items():
        train_many(cs, [tmp_path / f"{m}{s}" for s in range(2)], stack=True, progress=False)
    assert "torch.compile failed" not in capsys.readouterr().err
    for s in range(2):
        _compare(tmp_path / f"on{s}", tmp_path / f"off{s}", atol=1e-4)


def test_stacked_run_resumes_one_by_one(tmp_path):
    cfg = dict(model="m2", seed=0, model_options=OPTS["m2"], **SMALL)
    cfgs1 = [TrainConfig(epochs=1, **{**cfg, "seed": s}) for s in (0, 1)]
    cfgs2 = [TrainConfig(epochs=2, **{**cfg, "seed": s}) for s in (0, 1)]
    train_many(cfgs1, [tmp_path / f"a{s}" for s in (0, 1)], stack=True, progress=False)
    train_many(cfgs2, [tmp_path / f"a{s}" for s in (0, 1)], stack=False, progress=False)  # resume singly
    train_many(cfgs2, [tmp_path / f"b{s}" for s in (0, 1)], stack=False, progress=False)
    for s in (0, 1):
        _compare(tmp_path / f"a{s}", tmp_path / f"b{s}", atol=1e-4)


def test_baseline_and_mier_stack_together(tmp_path):
    cfgs = [
        TrainConfig(model="m2", epochs=2, seed=s, model_options=OPTS["m2"], **{**SMALL, "mier": m})
        for s, m in ((0, False), (0, True), (1, False))
    ]
    train_many(cfgs, [tmp_path / f"stacked{i}" for i in range(3)], stack=True, progress=False)
    train_many(cfgs, [tmp_path / f"single{i}" for i in range(3)], stack=False, progress=False)
    for i in range(3):
        _compare(tmp_path / f"stacked{i}", tmp_path / f"single{i}", atol=1e-4)
    # the pair with seed 0 shares the split but not the objective: their trajectories differ
    a, b = (ck.read_history(tmp_path / f"single{i}" / "metrics.jsonl")[-1]["train"]["entropy"] for i in (0, 1))
    assert a != b


def test_runs_enumerating_the_top_classes_stack_like_one_by_one(tmp_path):
    """--enumerate-top through the vmapped step (each run picks its own rows' classes)."""
    cfgs = [
        TrainConfig(model="m2", epochs=2, seed=s, enumerate_top=2, model_options=OPTS["m2"], **SMALL) for s in (0, 1)
    ]
    train_many(cfgs, [tmp_path / f"stacked{s}" for s in range(2)], stack=True, progress=False)
    train_many(cfgs, [tmp_path / f"single{s}" for s in range(2)], stack=False, progress=False)
    for s in range(2):
        _compare(tmp_path / f"stacked{s}", tmp_path / f"single{s}", atol=1e-4)


def test_what_may_differ_between_stacked_runs():
    a = TrainConfig(model="m2", seed=0)
    assert stackable([a, TrainConfig(model="m2", seed=3), TrainConfig(model="m2", seed=1, mier=True, beta=2.0)])
    assert not stackable([a, TrainConfig(model="adgm", seed=1)])
    assert not stackable([a, TrainConfig(model="m2", labels_per_class=250)])
    assert not stackable([a, TrainConfig(model="m2", seed=1, enumerate_top=2)])  # shapes differ


@pytest.mark.slow
def test_cli_seeds_writes_one_run_directory_per_seed(tmp_path):
    from ssvae.cli import main

    args = [
        "train",
        "--model",
        "m2",
        "--dataset",
        "digits",
        "--labels-per-class",
        "10",
        "--epochs",
        "1",
        "--batch-size",
        "100",
        "--device",
        DEVICE,
        "--seeds",
        "3",
        "4",
        "--out",
        str(tmp_path),
    ]
    assert main(args) == 0
    for s in (3, 4):
        assert ck.read_json(tmp_path / f"seed{s}" / "config.json")["config"]["seed"] == s
        assert (tmp_path / f"seed{s}" / "last.pt").exists()


@pytest.mark.slow
def test_jobs_in_separate_processes_equal_sequential_runs(tmp_path, capsys):
    """`--jobs 2`: two seeds trained at once in two spawned processes, bit-identical to one after the other at the
    same number of threads per run (a different thread count may reorder a product's sums: other last bits)."""
    from ssvae.cli import main
    from ssvae.training.parallel import cpu_cores

    args = ["train", "--model", "m2", "--dataset", "digits", "--labels-per-class", "10", "--epochs", "2"]
    args += ["--warmup-epochs", "1", "--batch-size", "100", "--labeled-batch-size", "100", "--device", "cpu"]
    args += ["--precision", "fp32", "--seeds", "0", "1"]
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, cpu_cores() // 2))  # what each of the two jobs gets
    try:
        assert main([*args, "--out", str(tmp_path / "seq"), "--jobs", "1"]) == 0
    finally:
        torch.set_num_threads(threads)
    assert main([*args, "--out", str(tmp_path / "par"), "--jobs", "2"]) == 0
    assert capsys.readouterr().out.count("trained") == 4
    for seed in ("seed0", "seed1"):
        a, b = (ck.load_checkpoint(tmp_path / d / seed / ck.LAST)["model"] for d in ("seq", "par"))
        for k, v in a.items():
            assert torch.equal(v, b[k]), (seed, k)
    with pytest.raises(SystemExit) as bad:  # a usage error: argparse exits with status 2 after one line
        main([*args, "--out", str(tmp_path / "bad"), "--jobs", "0"])
    assert bad.value.code == 2 and not (tmp_path / "bad").exists()


@pytest.mark.parametrize("code", ["mean", "sample"])
def test_runs_behind_a_feature_stage_stack_like_one_by_one(tmp_path, code):
    """Each run's own stage rides in the stacked step as buffers; a sampled code is drawn from each run's noise."""
    stage = dict(features="m1", feature_epochs=2, feature_code=code, features_dir=str(tmp_path / "stages"))
    cfgs = [TrainConfig(model="m2", epochs=2, seed=s, model_options=OPTS["m2"], **SMALL, **stage) for s in (0, 1)]
    train_many(cfgs, [tmp_path / f"stacked{s}" for s in range(2)], stack=True, progress=False)
    train_many(cfgs, [tmp_path / f"single{s}" for s in range(2)], stack=False, progress=False)
    assert len(list((tmp_path / "stages").iterdir())) == 2  # one stage per seed, trained once for both paths
    for s in range(2):
        _compare(tmp_path / f"stacked{s}", tmp_path / f"single{s}", atol=1e-4)


def _runs(model, seeds=(0, 1, 2)):
    from ssvae.training.loop import open_run

    return [
        open_run(TrainConfig(model=model, epochs=2, seed=s, model_options=OPTS[model], **SMALL), None) for s in seeds
    ]


@pytest.mark.parametrize("model", ["m2", "adgm", "lvae"])
def test_stacked_validation_equals_each_runs_own_pass(model, monkeypatch):
    """One vmapped pass over the stacked runs gives each run's own q(y|x) on its own validation images, the noise
    (ADGM's draws of a) in the order a run's own pass draws it, over several chunks of rows."""
    from ssvae.measures.metrics import predict_log_proba
    from ssvae.training import stacked_validation
    from ssvae.training.stacked import StackedLoss

    monkeypatch.setattr(stacked_validation, "PREDICT_ROWS", 40)  # 149 validation images: 4 chunks
    runs = _runs(model)
    stacked = StackedLoss([r.model for r in runs], runs[0].loss_fn, [r.obj_cfg for r in runs])
    log_q = stacked_validation.StackedValidation(runs, stacked.params, stacked.buffers).log_proba()
    assert log_q.shape == (3, len(runs[0].x_watch), 10)
    for j, r in enumerate(runs):
        own = predict_log_proba(r.model, r.x_watch, seed=r.cfg.seed, batch=40)
        torch.testing.assert_close(log_q[j], own, rtol=0, atol=1e-5)
    assert not torch.allclose(log_q[0], log_q[1])  # each run its own parameters and images


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step")  # no optimizer step in this test
def test_stacked_evaluation_reads_the_host_once_and_logs_what_each_run_would(monkeypatch):
    from ssvae.training.stacked import StackedLoss
    from ssvae.training.stacked_validation import StackedValidation

    runs, alone = _runs("adgm"), _runs("adgm")
    for r in runs + alone:
        r.add_stats({"loss": torch.tensor(2.5), "mi": torch.tensor(0.5)})
        r.count_step()
        assert r.close_epoch(1.0)
    stacked = StackedLoss([r.model for r in runs], runs[0].loss_fn, [r.obj_cfg for r in runs])
    validation, rows = StackedValidation(runs, stacked.params, stacked.buffers), []
    reads = host_reads(monkeypatch, lambda: rows.extend(validation.rows()), forbid=False)
    assert reads == ["tolist"]
    for row, r in zip(rows, alone):
        own = r.log_evaluation()
        assert row["val_accuracy"] == own["val_accuracy"] and row["train"] == own["train"] == {"loss": 2.5, "mi": 0.5}
        assert (row["epoch"], row["lr"], row["score"]) == (own["epoch"], own["lr"], own["score"])
        for k in ("val_entropy", "val_mi", "val_marginal_entropy"):
            assert row[k] == pytest.approx(own[k], abs=1e-5)
