"""End to end: train -> evaluate, resume equivalence, no test-set influence, CLI errors."""

import dataclasses
import importlib
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import DEVICE, DIGITS_RUN, tiny_arrays

from ssvae.cli import main
from ssvae.errors import SSVAEError
from ssvae.evaluation.evaluate import evaluate_run
from ssvae.records import rundir as ck
from ssvae.training.config import TrainConfig
from ssvae.training.loop import open_run, train

FAST = dict(DIGITS_RUN, warmup_epochs=2)  # the digits run of conftest, warmed up over two epochs


def test_train_then_evaluate_on_digits(tmp_path):
    run = tmp_path / "m2"
    train(TrainConfig(model="m2", epochs=4, **FAST), run, progress=False)
    m = evaluate_run(run, iw_samples=5, device=DEVICE)
    for f in (
        "config.json",
        "split.npz",
        "metrics.jsonl",
        "last.pt",
        "best.pt",
        "metrics.json",
        "recon.png",
        "samples.png",
        "tsne.png",
    ):
        assert (run / f).exists(), f
    for which in ("best", "last"):
        r = m[which]
        assert r["test_accuracy"] > 60.0  # chance is 10%
        assert 0 <= r["test_entropy"] <= np.log(10)
        assert r["test_elbo"] < 0 and r["test_iwae"] < 0
        assert r["test_iwae"] > r["test_elbo"]  # tighter bound
    assert m["epochs"] == 4 and 1 <= m["best_epoch"] <= 4
    rows = ck.read_history(run / "metrics.jsonl")
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert {"loss", "mi", "entropy", "U", "L"} <= set(rows[0]["train"])
    assert rows[0]["kl_weight"] < rows[-1]["kl_weight"] == 1.0


@pytest.mark.parametrize(
    "model,mier",
    [("m2", True), ("classifier", False), ("adgm", False), ("adgm", True), ("lvae", False), ("lvae", True)],
)
@pytest.mark.slow
def test_every_model_end_to_end(tmp_path, model, mier):
    run = tmp_path / "run"
    train(TrainConfig(model=model, mier=mier, epochs=3, **FAST), run, progress=False)
    m = evaluate_run(run, iw_samples=2, device=DEVICE, figures=model != "classifier")
    best = m["best"]
    assert best["test_accuracy"] > 30.0  # chance is 10%
    assert (best["test_elbo"] is None) == (model == "classifier")
    if model != "classifier":
        assert best["test_elbo"] < best["test_iwae"] < 0
        assert (run / "recon.png").exists() and (run / "samples.png").exists() and (run / "tsne.png").exists()


def _state(run):
    return ck.load_checkpoint(run / "last.pt")


@pytest.mark.parametrize("ema, teacher, top", [(0.0, 0.0, 0), (0.9, 0.0, 0), (0.0, 0.5, 0), (0.0, 0.0, 2)])
def test_resume_equals_uninterrupted(tmp_path, ema, teacher, top):
    """Also with --ema (its average resumes), --teacher (the graph's labels are computed again, identically) and
    --enumerate-top."""
    if teacher:
        pytest.importorskip("graphlearning")
    cfg = TrainConfig(model="m2", mier=True, epochs=4, ema=ema, teacher=teacher, enumerate_top=top, **FAST)
    train(cfg, tmp_path / "a", progress=False)

    class Stop(Exception):
        pass

    def stop_after_two(epoch, row):
        if epoch == 2:
            raise Stop

    with pytest.raises(Stop):
        train(cfg, tmp_path / "b", on_epoch_end=stop_after_two, progress=False)
    assert _state(tmp_path / "b")["epoch"] == 2
    train(cfg, tmp_path / "b", progress=False)  # the same command again: resumes

    ra, rb = ck.read_history(tmp_path / "a" / "metrics.jsonl"), ck.read_history(tmp_path / "b" / "metrics.jsonl")
    strip = lambda rows: [{k: v for k, v in r.items() if k != "train_seconds"} for r in rows]  # noqa: E731
    assert [r["epoch"] for r in ra] == [1, 2, 3, 4] and strip(ra) == strip(rb)
    sa, sb = _state(tmp_path / "a"), _state(tmp_path / "b")
    assert sa["best_epoch"] == sb["best_epoch"] and sa["step"] == sb["step"]
    for k, v in sa["model"].items():
        assert torch.equal(v, sb["model"][k]), k
    assert ("averaged" in sa) == ("averaged" in sb) == bool(ema)  # --ema: its moving average resumes exactly too
    for x, y in zip(sa.get("averaged", []), sb.get("averaged", [])):
        assert torch.equal(x, y)


@pytest.mark.slow
def test_sparse_checkpoints_resume_exactly_from_the_older_resume_point(tmp_path):
    """--checkpoint-seconds: last.pt is written only when that much training time has passed (here: never before
    the last epoch), and a crash after it repeats the epochs since exactly, best.pt and metrics.jsonl included."""
    cfg = TrainConfig(model="m2", mier=True, epochs=5, **FAST)
    train(cfg, tmp_path / "a", progress=False)
    sparse = dataclasses.replace(cfg, checkpoint_seconds=1e9)
    saved = []

    class Crash(Exception):
        pass

    best_on_disk = []

    def watch(epoch, row):
        saved.append(_state(tmp_path / "b")["epoch"] if (tmp_path / "b" / "last.pt").exists() else None)
        best_on_disk.append(ck.load_checkpoint(tmp_path / "b" / "best.pt")["epoch"])
        if epoch == 4:
            raise Crash

    train(dataclasses.replace(sparse, epochs=2), tmp_path / "b", progress=False)  # its last epoch: written
    with pytest.raises(Crash):
        train(sparse, tmp_path / "b", on_epoch_end=watch, progress=False)
    assert saved == [2, 2] and len(ck.read_history(tmp_path / "b" / "metrics.jsonl")) == 4
    # the kept model is written with the resume point only: not at epochs 3 and 4, though they improved on it
    scores = [r["score"] for r in ck.read_history(tmp_path / "a" / "metrics.jsonl")]
    assert max(scores[2:4]) > max(scores[:2]) and best_on_disk == [2, 2]
    train(sparse, tmp_path / "b", progress=False)  # resumes from epoch 2, repeats 3 and 4
    strip = lambda rows: [{k: v for k, v in r.items() if k != "train_seconds"} for r in rows]  # noqa: E731
    ra, rb = ck.read_history(tmp_path / "a" / "metrics.jsonl"), ck.read_history(tmp_path / "b" / "metrics.jsonl")
    assert strip(ra) == strip(rb)
    sa, sb = _state(tmp_path / "a"), _state(tmp_path / "b")
    assert sa["epoch"] == sb["epoch"] == 5 and sa["best_epoch"] == sb["best_epoch"]
    for k, v in sa["model"].items():
        assert torch.equal(v, sb["model"][k]), k
    ba, bb = (ck.load_checkpoint(tmp_path / r / "best.pt")["model"] for r in ("a", "b"))
    assert all(torch.equal(ba[k], bb[k]) for k in ba)


def test_resume_refuses_other_settings(tmp_path):
    train(TrainConfig(model="m2", epochs=1, **FAST), tmp_path / "r", progress=False)
    with pytest.raises(Exception, match="other settings.*mier"):
        train(TrainConfig(model="m2", mier=True, epochs=1, **FAST), tmp_path / "r", progress=False)


def test_a_setting_with_no_effect_is_recorded_at_its_default_and_never_blocks_a_resume(tmp_path):
    """beta does nothing without MIER: the run records what it trains (beta at its default), and a command that
    differs from it only there resumes it; a run recorded by an older version with the idle value resumes too."""
    cfg = TrainConfig(model="m2", epochs=1, beta=1.0, gamma=3.0, **FAST)
    train(cfg, tmp_path / "r", progress=False)
    recorded = ck.read_json(tmp_path / "r" / "config.json")
    assert (recorded["config"]["beta"], recorded["config"]["gamma"]) == (5.0, 1.0)
    stamp = (tmp_path / "r" / "last.pt").stat().st_mtime_ns
    train(dataclasses.replace(cfg, beta=2.0), tmp_path / "r", progress=False)  # finished: nothing to train
    assert (tmp_path / "r" / "last.pt").stat().st_mtime_ns == stamp
    old = {**recorded, "config": {**recorded["config"], "beta": 1.0}}  # as written before idle settings were reset
    ck.save_json(tmp_path / "r" / "config.json", old)
    train(dataclasses.replace(cfg, epochs=2), tmp_path / "r", progress=False)
    assert len(ck.read_history(tmp_path / "r" / "metrics.jsonl")) == 2
    with pytest.raises(SSVAEError, match="other settings.*beta"):  # with MIER on, beta is the run's own
        train(dataclasses.replace(cfg, mier=True), tmp_path / "m", progress=False)
        train(dataclasses.replace(cfg, mier=True, beta=2.0), tmp_path / "m", progress=False)


def test_test_split_never_influences_training(tmp_path):
    a = tiny_arrays(n_train=400)
    np.savez(tmp_path / "a.npz", **a)
    b = dict(a, x_test=255 - a["x_test"], y_test=(a["y_test"] + 1) % 3)  # a wholly different test split
    np.savez(tmp_path / "b.npz", **b)
    kw = dict(FAST, dataset=None, labels_per_class=5)
    for name in ("a", "b"):
        train(
            TrainConfig(model="m2", mier=True, epochs=3, **{**kw, "dataset": str(tmp_path / f"{name}.npz")}),
            tmp_path / f"run-{name}",
            progress=False,
        )
    ra, rb = (ck.read_history(tmp_path / f"run-{n}" / "metrics.jsonl") for n in "ab")
    assert [r["val_accuracy"] for r in ra] == [r["val_accuracy"] for r in rb]
    for file in ("best.pt", "last.pt"):
        sa, sb = (ck.load_checkpoint(tmp_path / f"run-{n}" / file)["model"] for n in "ab")
        assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_checkpoints_load_with_weights_only(tmp_path):
    train(TrainConfig(model="m2", epochs=1, **FAST), tmp_path / "r", progress=False)
    for f in ("last.pt", "best.pt"):
        torch.load(tmp_path / "r" / f, weights_only=True)
    assert not list((tmp_path / "r").glob("*.tmp"))


@pytest.mark.slow
def test_cli_train_evaluate_and_demo(tmp_path, capsys):
    run = tmp_path / "cli"
    assert (
        main(
            [
                "train",
                "--model",
                "m2",
                "--dataset",
                "digits",
                "--labels-per-class",
                "10",
                "--epochs",
                "2",
                "--batch-size",
                "100",
                "--warmup-epochs",
                "1",
                "--device",
                DEVICE,
                "--out",
                str(run),
            ]
        )
        == 0
    )
    assert main(["evaluate", str(run), "--device", DEVICE, "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert "test acc %" in out and json.loads((run / "metrics.json").read_text())["best"]["test_accuracy"] > 10
    assert main(["demo", "--epochs", "2", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "M2+MIER" in out and "supervised only" in out
    assert "scikit-learn label spreading" in out and "Poisson learning (graphlearning" in out  # baselines, same split
    for sub in ("classifier", "m2", "m2-mier"):
        assert (tmp_path / "demo" / sub / "metrics.json").exists()


@pytest.mark.parametrize(
    "args,message",
    [
        (["--dataset", "nope"], "unknown dataset 'nope'"),
        (["--dataset", "digits", "--labels-per-class", "500"], "is more than class"),
        (["--dataset", "digits", "--model", "m9"], "unknown model 'm9'"),
        (["--dataset", "digits", "--epochs", "0"], "--epochs must be at least 1"),
        (["--dataset", "missing.npz"], "no such file"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path, capsys, args, message):
    assert main(["train", *args, "--device", DEVICE, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.slow
def test_console_entry_point():
    r = subprocess.run([sys.executable, "-m", "ssvae", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "demo" in r.stdout and "evaluate" in r.stdout


def test_bf16_autocast_trains_like_fp32(tmp_path):
    accs = {}
    for precision in ("fp32", "bf16"):
        run = tmp_path / precision
        train(TrainConfig(model="m2", epochs=3, **{**FAST, "precision": precision}), run, progress=False)
        accs[precision] = ck.read_history(run / "metrics.jsonl")[-1]["val_accuracy"]
    assert accs["bf16"] > 60.0 and abs(accs["bf16"] - accs["fp32"]) < 10.0, accs


def test_unknown_precision_is_refused(tmp_path):
    with pytest.raises(SSVAEError, match="unknown precision 'fp8'"):
        train(TrainConfig(model="m2", **{**FAST, "precision": "fp8"}), tmp_path / "x", progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["m2", "adgm"])
def test_mier_at_default_weighting_does_not_collapse_on_small_data(tmp_path, model):
    """The paper's networks, MIER's beta = 5, gamma = 1 and the default weighting and alpha, on 10 labels per class.

    Under the per-batch-mean rule (alpha 1.2 here) M2+MIER sat at 13% validation accuracy for its first 45 epochs
    (benchmarks/weighting.py, seed 0): the entropy penalty made the classifier confident before the labels spoke."""
    run = tmp_path / model
    cfg = TrainConfig(model=model, mier=True, epochs=8, **FAST)
    assert cfg.weighting == "sum" and cfg.alpha is None and (cfg.beta, cfg.gamma) == (5.0, 1.0)
    train(cfg, run, progress=False)
    rows = ck.read_history(run / "metrics.jsonl")
    assert rows[-1]["val_accuracy"] > 60.0  # chance is 10%
    assert rows[-1]["val_marginal_entropy"] > 0.8 * np.log(10) and not rows[-1]["collapsed"]
    mean = tmp_path / f"{model}-mean"
    train(TrainConfig(model=model, mier=True, epochs=8, weighting="mean", **FAST), mean, progress=False)
    assert ck.read_history(mean / "metrics.jsonl")[-1]["collapsed"]  # the guard sees the old rule's collapse


def test_run_from_before_the_weighting_setting_resumes_only_under_its_old_rule(tmp_path, capsys):
    run = tmp_path / "old"
    cfg = TrainConfig(model="classifier", epochs=1, weighting="mean", **FAST)
    train(cfg, run, progress=False)
    meta = json.loads((run / "config.json").read_text())
    for key in ("weighting", "select"):  # as a run directory written before these settings existed
        del meta["config"][key]
    (run / "config.json").write_text(json.dumps(meta))
    with pytest.raises(SSVAEError, match="weighting: 'mean' -> 'sum'"):
        train(TrainConfig(model="classifier", epochs=2, **FAST), run, progress=False)
    train(TrainConfig(model="classifier", epochs=2, weighting="mean", **FAST), run, progress=False)
    assert ck.read_history(run / "metrics.jsonl")[-1]["epoch"] == 2


@pytest.mark.filterwarnings("ignore:Seems like `optimizer.step\\(\\)` has been overridden")
def test_learning_rate_halves_exactly_every_n_epochs(tmp_path):
    """Section 5.2: lr for epochs 1..N, lr/2 for N+1..2N, ... Recorded at every optimizer step, not from the log."""
    from ssvae.training.loop import open_run, run_epochs

    cfg = TrainConfig(model="classifier", epochs=7, lr=0.004, lr_decay_every=3, **FAST)
    run = open_run(cfg, tmp_path / "r")
    used: list[tuple[int, float]] = []
    step = run.opt.step
    # the lr is a tensor the schedule changes in place (training.hardware.tensor_lr): record its value at each step
    lr_now = lambda: float(run.opt.param_groups[0]["lr"])  # noqa: E731
    run.opt.step = lambda *a, **k: (used.append((run.epoch + 1, lr_now())), step(*a, **k))[1]
    run_epochs(run, progress=False)
    by_epoch = {e: {lr for ep, lr in used if ep == e} for e in range(1, 8)}
    assert by_epoch == {1: {0.004}, 2: {0.004}, 3: {0.004}, 4: {0.002}, 5: {0.002}, 6: {0.002}, 7: {0.001}}


@pytest.mark.slow
def test_time_limited_chunks_resume_bit_identical(tmp_path):
    """--time-limit: each command stops before an epoch it cannot finish, checkpointing even between evaluations
    (eval_every 2 here), and the chunks together equal one uninterrupted run."""
    import functools
    import itertools

    from ssvae.training.budget import TimeBudget

    cfg = TrainConfig(model="m2", mier=True, epochs=5, eval_every=2, **FAST)
    train(cfg, tmp_path / "whole", progress=False)
    chunks = []
    while not (tmp_path / "chunked" / "model-last").exists():
        ticks = itertools.count()
        budget = TimeBudget(8, clock=functools.partial(next, ticks))  # every clock reading advances one second
        train(cfg, tmp_path / "chunked", progress=False, budget=budget)
        chunks.append(budget.progress[str(tmp_path / "chunked")][0])
        assert len(chunks) < 10
    assert chunks[0] < 5 and len(chunks) > 2 and chunks[-1] == 5, chunks
    strip = lambda rows: [{k: v for k, v in r.items() if k != "train_seconds"} for r in rows]  # noqa: E731
    assert strip(ck.read_history(tmp_path / "whole" / ck.HISTORY)) == strip(
        ck.read_history(tmp_path / "chunked" / ck.HISTORY)
    )
    a, b = _state(tmp_path / "whole"), _state(tmp_path / "chunked")
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k


def test_cli_time_limit_says_how_far_and_continues(tmp_path, capsys, monkeypatch):
    args = ["train", "--model", "m2", "--dataset", "digits", "--labels-per-class", "10", "--epochs", "2"]
    args += ["--warmup-epochs", "1", "--batch-size", "100", "--labeled-batch-size", "100", "--device", DEVICE]
    monkeypatch.setenv("SSVAE_TIME_LIMIT", "0.001")  # the environment's limit, as a cluster job would set it
    assert main([*args, "--out", str(tmp_path / "r")]) == 0
    assert capsys.readouterr().out.strip() == "1 of 2 run-epochs done; run the same command again to continue"
    assert main([*args, "--out", str(tmp_path / "r")]) == 0  # at least one epoch per command: it finishes
    assert "trained" in capsys.readouterr().out
    monkeypatch.delenv("SSVAE_TIME_LIMIT")
    assert main([*args, "--out", str(tmp_path / "w")]) == 0
    ra, rb = (ck.read_history(tmp_path / d / ck.HISTORY) for d in ("r", "w"))
    assert [r["val_accuracy"] for r in ra] == [r["val_accuracy"] for r in rb]
    assert main([*args, "--out", str(tmp_path / "x"), "--time-limit", "-3"]) == 2


def test_checkpoint_moves_between_devices(tmp_path):
    """Trained on the test device, resumed on the CPU, and back: a run directory is not tied to a device."""
    run = tmp_path / "r"
    for epochs, device in ((1, DEVICE), (2, "cpu"), (3, DEVICE)):
        train(TrainConfig(model="m2", epochs=epochs, **{**FAST, "device": device}), run, progress=False)
    assert [r["epoch"] for r in ck.read_history(run / ck.HISTORY)] == [1, 2, 3]


def test_resume_from_another_kind_of_device_reseeds_with_a_warning(tmp_path, capsys):
    """A CUDA generator's state (16 bytes) cannot seed a CPU generator: the run resumes with a fresh, seeded noise
    stream and says that it is no longer bit-identical, instead of failing."""
    run = tmp_path / "r"
    cfg = TrainConfig(model="m2", epochs=1, **{**FAST, "device": "cpu"})
    train(cfg, run, progress=False)
    state = ck.load_checkpoint(run / ck.LAST)
    state["rng"] = torch.zeros(16, dtype=torch.uint8)  # what a CUDA generator's get_state() returns
    ck.save_checkpoint(run / ck.LAST, state)
    train(TrainConfig(model="m2", epochs=2, **{**FAST, "device": "cpu"}), run, progress=False)
    assert "another kind of device" in capsys.readouterr().err
    assert [r["epoch"] for r in ck.read_history(run / ck.HISTORY)] == [1, 2]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["m2", "adgm", "lvae"])
def test_compiled_step_trains_like_eager(tmp_path, capsys, model):
    """--compile on (forced on the CPU): the same losses and parameters as eager over an epoch (12 steps), within
    float rounding of a differently fused computation."""
    small = {"hidden": 32, "z_dim": 4, "classifier_hidden": 32, "a_dim": 4, "latent_dims": (8, 6, 4)}
    opts = {
        k: small[k]
        for k in small
        if k
        in {
            "m2": ("hidden", "z_dim", "classifier_hidden"),
            "adgm": ("hidden", "z_dim", "classifier_hidden", "a_dim"),
            "lvae": ("hidden", "classifier_hidden", "latent_dims"),
        }[model]
    }
    runs = {}
    for mode in ("off", "on"):
        cfg = TrainConfig(
            model=model, mier=True, epochs=1, compile=mode, **{**FAST, "device": "cpu", "model_options": opts}
        )
        runs[mode] = train(cfg, tmp_path / mode, progress=False)
    assert "torch.compile failed" not in capsys.readouterr().err  # it ran compiled, not on the fallback
    (a,), (b,) = (ck.read_history(runs[m] / ck.HISTORY) for m in ("off", "on"))
    for k, v in a["train"].items():
        assert b["train"][k] == pytest.approx(v, rel=1e-4, abs=1e-5), k
    sa, sb = _state(runs["off"])["model"], _state(runs["on"])["model"]
    for k, v in sa.items():
        torch.testing.assert_close(sb[k], v, rtol=1e-4, atol=1e-5)


def test_compile_failure_falls_back_to_eager_with_one_warning(tmp_path, capsys, monkeypatch):
    def broken(fn):
        def call(*args):
            raise RuntimeError("inductor could not build this\nsecond line")

        return call

    monkeypatch.setattr(torch, "compile", broken)
    cfg = dict(model="m2", epochs=1, **{**FAST, "device": "cpu"})
    train(TrainConfig(compile="on", **cfg), tmp_path / "on", progress=False)
    err = [line for line in capsys.readouterr().err.splitlines() if "torch.compile failed" in line]
    assert len(err) == 1 and "inductor could not build this" in err[0]
    train(TrainConfig(compile="off", **cfg), tmp_path / "off", progress=False)
    for k, v in _state(tmp_path / "off")["model"].items():
        assert torch.equal(_state(tmp_path / "on")["model"][k], v), k


@pytest.mark.parametrize(
    "caps, expected", [({"avx512_bf16": True}, "bf16"), ({"amx_bf16": True}, "bf16"), ({}, "fp32")]
)
def test_precision_auto_follows_what_the_cpu_reports(tmp_path, monkeypatch, capsys, caps, expected):
    """auto never picks an emulated precision: bf16 only where PyTorch reports AVX-512 BF16 or AMX (faked here
    both ways); the choice is what config.json records, and a resumed run keeps it on any machine."""
    tr = importlib.import_module("ssvae.machine.hardware")

    monkeypatch.setattr(tr, "cpu_capabilities", lambda: dict(caps, avx2=True))
    cfg = TrainConfig(model="m2", epochs=1, **{**FAST, "device": "cpu", "precision": "auto"})
    train(cfg, tmp_path / "r", progress=False)
    assert ck.read_json(tmp_path / "r" / ck.CONFIG)["config"]["precision"] == expected
    assert "emulated" not in capsys.readouterr().err
    other = {} if caps else {"avx512_bf16": True}  # the same run directory resumed on the other kind of CPU
    monkeypatch.setattr(tr, "cpu_capabilities", lambda: other)
    train(TrainConfig(model="m2", epochs=2, **{**FAST, "device": "cpu", "precision": "auto"}), tmp_path / "r")
    assert ck.read_json(tmp_path / "r" / ck.CONFIG)["config"]["precision"] == expected


@pytest.mark.parametrize(
    "caps, kind",
    [
        ({"amx_bf16": True, "avx512_bf16": True, "avx2": True}, "amx_bf16"),
        ({"avx512_bf16": True, "avx2": True}, "avx512_bf16"),
        ({"avx2": True}, "avx2"),
    ],
)
def test_a_cpu_is_named_with_the_fastest_instruction_set_it_has(monkeypatch, caps, kind):
    """Machines of one model name differ in what sets their speed (AMX before AVX-512 BF16 before AVX2): the
    benchmarks' and `ssvae reproduce`'s reports name the CPU with it (faked here)."""
    from ssvae.experiments.reproduce import device_name

    hw = importlib.import_module("ssvae.machine.hardware")
    monkeypatch.setattr(hw, "cpu_capabilities", lambda: dict(caps, cpu_name="Some CPU"))
    assert hw.cpu_name() == f"Some CPU ({kind})"
    assert device_name(torch.device("cpu")).startswith(f"CPU: Some CPU ({kind}), ")


def test_precision_auto_on_cuda_is_fp32_as_measured(monkeypatch):
    """On one H200 bf16 was slower than fp32 (benchmarks/RESULTS.md): auto picks fp32 on CUDA even where bf16 is
    native, and bf16 on a CPU that has it (the table is per device kind, not one rule for all)."""
    from ssvae.machine.hardware import resolve_precision

    tr = importlib.import_module("ssvae.machine.hardware")
    monkeypatch.setattr(tr, "native_bf16", lambda device: True)
    assert resolve_precision("auto", torch.device("cuda")) == "fp32"
    assert resolve_precision("auto", torch.device("cpu")) == "bf16"
    assert resolve_precision("tf32", torch.device("cuda")) == "tf32"


def test_explicit_bf16_where_it_is_emulated_warns_once(tmp_path, monkeypatch, capsys):
    tr = importlib.import_module("ssvae.machine.hardware")

    monkeypatch.setattr(tr, "cpu_capabilities", lambda: {"avx2": True})
    cfg = TrainConfig(model="m2", epochs=1, **{**FAST, "device": "cpu", "precision": "bf16"})
    train(cfg, tmp_path / "r", progress=False)
    lines = [line for line in capsys.readouterr().err.splitlines() if "emulated" in line]
    assert len(lines) == 1 and "18x slower" in lines[0] and "--precision auto or fp32" in lines[0]
    assert ck.read_json(tmp_path / "r" / ck.CONFIG)["config"]["precision"] == "bf16"  # the user's choice stands


@pytest.mark.slow
def test_training_uses_fused_adam_and_old_unfused_runs_resume_bit_identical(tmp_path, monkeypatch):
    """New runs step with torch's fused Adam; a run checkpointed by the unfused Adam of earlier versions resumes
    unfused (the kinds differ in the last bits) and ends bit-identical to an uninterrupted unfused run."""
    train_module = importlib.import_module("ssvae.training.build")  # where Run's parts are made
    run = open_run(TrainConfig(model="m2", epochs=1, **FAST), tmp_path / "new")
    assert run.opt.param_groups[0]["fused"] is True
    run.close()

    cfg = TrainConfig(model="m2", epochs=3, **FAST)
    fused = train_module.adam
    with monkeypatch.context() as m:  # as before fused Adam existed in ssvae
        m.setattr(train_module, "adam", lambda params, lr, betas: torch.optim.Adam(params, lr=lr, betas=betas))
        train(cfg, tmp_path / "a", progress=False)
        train(TrainConfig(model="m2", epochs=1, **FAST), tmp_path / "b", progress=False)
    assert train_module.adam is fused
    train(cfg, tmp_path / "b", progress=False)  # resumes with today's code
    sa, sb = _state(tmp_path / "a"), _state(tmp_path / "b")
    for k, v in sa["model"].items():
        assert torch.equal(v, sb["model"][k]), k
    train(cfg, tmp_path / "c", progress=False)  # fused throughout: the same run to float rounding, not bitwise
    sc = _state(tmp_path / "c")
    assert not all(torch.equal(v, sc["model"][k]) for k, v in sa["model"].items())
    for k, v in sa["model"].items():  # rounding differences grow over 3 epochs: 1.3e-3 at most measured
        torch.testing.assert_close(v, sc["model"][k], rtol=0, atol=1e-2)
    ha, hc = ck.read_history(tmp_path / "a" / ck.HISTORY), ck.read_history(tmp_path / "c" / ck.HISTORY)
    for x, y in zip(ha, hc):
        assert x["train"]["loss"] == pytest.approx(y["train"]["loss"], rel=1e-3)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
@pytest.mark.parametrize("opt_out", ["1", "0"])
def test_keep_freed_memory_stops_reused_tensors_from_page_faulting(opt_out):
    """A fresh process with two threads: 20 rounds of two 8 MB tensors allocated and freed. With glibc's own
    thresholds every round often faults the pages in anew (tens of thousands of minor faults); after
    keep_freed_memory() the blocks are reused (next to none). SSVAE_KEEP_FREED_MEMORY=0 leaves malloc alone."""
    code = (
        "import resource, torch\n"
        "from ssvae.machine.hardware import keep_freed_memory\n"
        "def faults():\n"
        "    r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "    for _ in range(20):\n"
        "        a = torch.ones(2000, 1000); b = a * 2; del a, b\n"
        "    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0\n"
        "faults(); before = faults(); kept = keep_freed_memory(); faults()\n"
        "print(before, kept, faults())\n"
    )
    env = {**__import__("os").environ, "SSVAE_KEEP_FREED_MEMORY": opt_out, "OMP_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    before, kept, after = out.stdout.split()  # before: glibc's own thresholds fault ~77,000 pages here, or
    # none where its dynamic threshold has already adapted (both seen on the same machine), so it is not asserted
    if opt_out == "1":  # after: 0-200 on a quiet machine; 1,953 once with three busy processes on 2 cores
        assert kept == "True" and int(after) < 5000
    else:
        assert kept == "False"


def test_cpu_training_run_keeps_freed_memory(tmp_path, monkeypatch):
    run_module = importlib.import_module("ssvae.training.run")

    calls = []
    monkeypatch.setattr(run_module, "keep_freed_memory", lambda: calls.append(1))
    run = open_run(TrainConfig(model="m2", epochs=1, **FAST), tmp_path / "r")
    run.close()
    assert calls == ([1] if run.device.type == "cpu" else [])
