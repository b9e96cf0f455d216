"""The feature stage (Kingma et al.'s M1 in front of any model): its bound against an independent computation,
the frozen stage, stage 1's training, both stages resuming after kill -9, sharing, saved models, bad input."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from test_faults import CLI, cli_env, history, weights

from ssvae import SemiSupervisedClassifier
from ssvae.cli import main
from ssvae.core.distributions import kl_std_normal
from ssvae.core.features import Featurized, build_network, build_stage
from ssvae.core.models import model_config
from ssvae.core.objectives import ObjectiveConfig, semi_supervised_loss
from ssvae.records import rundir as ck
from ssvae.training import stage1
from ssvae.training.config import TrainConfig
from ssvae.training.loop import train

SPEC = {"name": "m1", "code": "mean", "likelihood": "bernoulli"}


def test_m1_bound_is_the_bernoulli_log_likelihood_at_the_reparameterised_sample_minus_the_closed_form_kl():
    stage = build_stage("m1", 12, "bernoulli", seed=0)
    x = torch.rand(5, 12).round()
    gen = torch.Generator().manual_seed(3)
    log_px, kl = stage.elbo_terms(x, gen)
    # independently: the encoder by hand, the same noise from a generator in the same state, torch's Bernoulli
    h = stage.enc(x)
    mu, logvar = stage.q_z.mu(h), stage.q_z.logvar(h)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(3))
    logits = stage.dec(mu + torch.exp(0.5 * logvar) * eps)
    expected = torch.distributions.Bernoulli(logits=logits).log_prob(x).sum(-1)
    torch.testing.assert_close(log_px, expected, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(kl, 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(-1))
    torch.testing.assert_close(kl, kl_std_normal(mu, logvar))
    assert (kl > 0).all()


def test_featurized_model_sees_the_stage_mean_and_trains_only_its_own_parameters():
    net = build_network("m2", 12, 3, model_config("m2", hidden=16, z_dim=3, classifier_hidden=16), 0, SPEC)
    assert isinstance(net, Featurized) and net.model.lik.__class__.__name__ == "GaussianLikelihood"
    assert not any(n.startswith("stage.") for n, _ in net.named_parameters())
    assert any(k.startswith("stage.") for k in net.state_dict())  # both stages in one state_dict
    x, y = torch.rand(6, 12).round(), torch.tensor([0, 1, 2, 0, 1, 2])
    mu, _ = net.stage.encode(x)
    assert mu.shape == (6, 50)
    torch.testing.assert_close(net.predict_log_proba(x), net.model.predict_log_proba(mu))
    stage_before = {k: v.clone() for k, v in net.stage.state_dict().items()}
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    loss, _ = semi_supervised_loss(net, x, y, x, torch.Generator().manual_seed(0), ObjectiveConfig(), 1.0)
    loss.backward()
    opt.step()
    for k, v in net.stage.state_dict().items():
        assert torch.equal(v, stage_before[k]), k
    assert net.reconstruct(x, y).shape == (6, 12) and net.sample(y, torch.Generator()).shape == (6, 12)


def test_sampled_code_is_a_fresh_draw_while_training_and_the_mean_at_evaluation():
    net = build_network("m2", 12, 3, model_config("m2", hidden=16, z_dim=3), 0, {**SPEC, "code": "sample"})
    x = torch.rand(4, 12).round()
    mu, logvar = net.stage.encode(x)
    net.train()
    drawn = net.code(x, torch.Generator().manual_seed(5))
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(drawn, mu + torch.exp(0.5 * logvar) * eps)
    net.eval()
    assert torch.equal(net.code(x, torch.Generator().manual_seed(5)), mu)


def digits_cfg(**kw) -> TrainConfig:
    base = dict(dataset="digits", labels_per_class=10, batch_size=100, labeled_batch_size=100, warmup_epochs=1)
    base.update(device="cpu", precision="fp32", model_options={"hidden": 32, "z_dim": 4, "classifier_hidden": 32})
    return TrainConfig(**{**base, "features": "m1", "feature_epochs": 8, "epochs": 2, **kw})


def test_stage_one_elbo_rises_on_digits(tmp_path):
    train(digits_cfg(), tmp_path / "run", progress=False)
    rows = ck.read_history(tmp_path / "run" / ck.FEATURE_STAGE / stage1.HISTORY)
    assert [r["epoch"] for r in rows] == list(range(1, 9))
    elbo = [r["elbo"] for r in rows]
    assert elbo[-1] > elbo[0] + 5, elbo  # nats per digit image (64 intensities)
    assert all(np.isclose(r["elbo"], r["log_px"] - r["kl"]) for r in rows)
    config = json.loads((tmp_path / "run" / ck.CONFIG).read_text())
    assert config["features"] == SPEC


@pytest.mark.slow
def test_a_grid_trains_each_shared_stage_once_and_every_run_directory_keeps_a_copy(tmp_path, monkeypatch):
    from ssvae.experiments.engines import run_points
    from ssvae.experiments.grid import points_of

    calls = []
    real = stage1.StageRun.finish
    monkeypatch.setattr(stage1.StageRun, "finish", lambda self: calls.append(1) or real(self))
    cfgs = [digits_cfg(mier=m, seed=s) for s in (0, 1) for m in (False, True)]
    run_points(points_of(cfgs, ["mier", "seed"], 0), tmp_path, jobs=1)
    assert len(calls) == 2  # one stage per seed, shared by M2 and M2+MIER
    shared = sorted((tmp_path / "features").iterdir())
    assert len(shared) == 2
    runs = sorted((tmp_path / "runs").rglob(ck.CONFIG))
    runs = [r.parent for r in runs if r.parent.name.startswith("seed")]
    assert len(runs) == 4
    for run in runs:
        seed = json.loads((run / ck.CONFIG).read_text())["config"]["seed"]
        own = (run / ck.FEATURE_STAGE / stage1.FINAL).read_bytes()
        matching = [d for d in shared if (d / stage1.FINAL).read_bytes() == own]
        assert len(matching) == 1 and json.loads((matching[0] / stage1.KEY).read_text())["seed"] == seed


def test_the_estimator_saves_both_stages_and_reloads_with_identical_predictions(tmp_path):
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    y = y.copy()
    y[np.random.default_rng(0).random(len(y)) > 0.1] = -1  # 10% labels, a table: the stage is Gaussian
    est = SemiSupervisedClassifier(
        features="m1", feature_epochs=3, epochs=2, hidden=16, random_state=0, device="cpu", precision="fp32"
    ).fit(x, y)
    assert isinstance(est.model_, Featurized) and est.config_["features"]["likelihood"] == "gaussian"
    est.save(tmp_path / "model")
    saved = json.loads((tmp_path / "model" / "config.json").read_text())
    assert saved["features"]["name"] == "m1"
    again = SemiSupervisedClassifier.load(tmp_path / "model", device="cpu")
    np.testing.assert_array_equal(again.predict_proba(x), est.predict_proba(x))
    assert est.transform(x[:3]).shape == (3, est.model_.model.cfg.z_dim)


def test_a_saved_model_whose_stages_do_not_match_its_config_is_refused_in_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    train(digits_cfg(feature_epochs=2), run, progress=False)
    for edit in ("drop the stage", "another code size"):
        model = tmp_path / edit.replace(" ", "-")
        shutil.copytree(run / ck.MODEL_BEST, model)
        config = json.loads((model / "config.json").read_text())
        if edit == "drop the stage":
            config["features"] = None
        else:
            config["model_config"]["z_dim"] = 7  # the stage-2 model no longer fits its saved weights
        (model / "config.json").write_text(json.dumps(config))
        np.save(tmp_path / "x.npy", np.zeros((2, 64), np.float32))
        assert main(["predict", str(model), str(tmp_path / "x.npy"), "--out", str(tmp_path / "p.csv")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "does not match config.json" in err[0], err


def test_resuming_a_run_with_a_feature_stage_it_was_not_trained_with_is_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--model", "m2", "--epochs", "1", "--hidden", "16", "--z-dim", "2", *CLI, "--out", str(out)]
    assert main(args) == 0
    capsys.readouterr()
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main([*args, "--features", "m1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "features: 'none' -> 'm1'" in err[0], err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.slow
def test_kill_9_in_either_stage_resumes_bit_identically(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "ssvae",
        "train",
        "--model",
        "m2",
        "--mier",
        "--epochs",
        "6",
        "--hidden",
        "32",
        "--z-dim",
        "4",
        "--classifier-hidden",
        "32",
        *CLI,
        "--features",
        "m1",
        "--feature-epochs",
        "10",
        "--feature-code",
        "sample",
        "--quiet",
    ]
    ref, run = tmp_path / "uninterrupted", tmp_path / "killed"
    subprocess.run([*cmd, "--out", str(ref)], check=True, env=cli_env(), capture_output=True)
    stage_history = run / ck.FEATURE_STAGE / stage1.HISTORY
    final = run / ck.FEATURE_STAGE / stage1.FINAL
    for logged, at_least in ((stage_history, 3), (run / ck.HISTORY, 2)):  # stage 1, then stage 2
        p = subprocess.Popen(
            [*cmd, "--out", str(run)], env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        while p.poll() is None and (not logged.exists() or len(ck.read_history(logged)) < at_least):
            time.sleep(0.01)
        assert p.poll() is None, p.stderr.read().decode()  # killed while that stage was still training
        p.send_signal(signal.SIGKILL)
        p.wait()
        if logged == stage_history:
            assert not final.exists() and not (run / ck.LAST).exists()  # the kill hit stage 1
    assert final.exists() and len(ck.read_history(run / ck.HISTORY)) < 6  # the second kill hit stage 2
    subprocess.run([*cmd, "--out", str(run)], check=True, env=cli_env(), capture_output=True)
    a, b = (ck.read_history(r / ck.FEATURE_STAGE / stage1.HISTORY) for r in (ref, run))
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in a] == [
        {k: v for k, v in r.items() if k != "seconds"} for r in b
    ]
    sa, sb = (ck.load_checkpoint(r / ck.FEATURE_STAGE / stage1.FINAL)["model"] for r in (ref, run))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert history(ref) == history(run)
    wa, wb = weights(ref), weights(run)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.slow
def test_time_limited_chunks_through_both_stages_equal_one_go(tmp_path):
    """--time-limit counts stage 1's epochs too: a command may stop inside stage 1 (checkpointed) and the next
    continues it; the chunks together equal one uninterrupted run, in both stages."""
    import functools
    import itertools

    from ssvae.training.budget import TimeBudget

    cfg = digits_cfg(feature_epochs=6, epochs=3, mier=True)
    train(cfg, tmp_path / "whole", progress=False)
    chunks = []
    while not (tmp_path / "chunked" / ck.MODEL_LAST).exists():
        ticks = itertools.count()
        budget = TimeBudget(4, clock=functools.partial(next, ticks))  # every clock reading advances one second
        train(cfg, tmp_path / "chunked", progress=False, budget=budget)
        stage_epochs = len(ck.read_history(tmp_path / "chunked" / ck.FEATURE_STAGE / stage1.HISTORY))
        chunks.append((stage_epochs, budget.progress[str(tmp_path / "chunked")][0]))
        assert len(chunks) < 12
    assert chunks[0] == (chunks[0][0], 0) and chunks[0][0] < 6, chunks  # the first command stopped in stage 1
    a, b = (ck.read_history(tmp_path / r / ck.FEATURE_STAGE / stage1.HISTORY) for r in ("whole", "chunked"))
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in a] == [
        {k: v for k, v in r.items() if k != "seconds"} for r in b
    ]
    assert history(tmp_path / "whole") == history(tmp_path / "chunked")
    wa, wb = weights(tmp_path / "whole"), weights(tmp_path / "chunked")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.slow
def test_on_digits_at_10_labels_the_code_trails_the_pixels_at_equal_epochs(tmp_path):
    """What the issue asked to find out (does M2 on M1's code beat M2 on the pixels at 10 labels per class on
    digits, at equal epochs?), measured at the paper's sizes: it does not. Digits' 1248 unlabeled 8x8 images give
    M1 only ~7 steps an epoch, and after 100 epochs its code carries ~3 nats (posterior collapse), so M2 on it
    trails M2 on the pixels (docs/findings/m1-m2.md: also at 1000 stage epochs). If this fails, the code has
    caught up: update that digits finding."""
    from ssvae.evaluation.evaluate import evaluate_run

    common = dict(dataset="digits", labels_per_class=10, epochs=30, warmup_epochs=6, device="cpu", precision="fp32")
    acc = {}
    for name, kw in {"pixels": {}, "code": {"features": "m1", "feature_epochs": 100}}.items():
        train(TrainConfig(model="m2", **common, **kw), tmp_path / name, progress=False)
        acc[name] = evaluate_run(tmp_path / name, figures=False, progress=False)["last"]["test_accuracy"]
    kl = ck.read_history(tmp_path / "code" / ck.FEATURE_STAGE / stage1.HISTORY)[-1]["kl"]
    assert acc["pixels"] > acc["code"] + 2, (acc, kl)
    assert kl < 10, kl  # the collapsed code the docstring describes
