"""`--ema`: the moving average of the weights against its closed form, training unchanged by it, the average
being what a run validates, keeps and exports (that it resumes exactly: test_train's resume test)."""

import pytest
import torch
from conftest import DIGITS_RUN, SMALL_ESTIMATOR, semi_labeled

from ssvae import SemiSupervisedClassifier
from ssvae.cli import main
from ssvae.errors import SSVAEError
from ssvae.evaluation.evaluate import evaluate_run
from ssvae.measures.metrics import predict_log_proba
from ssvae.records import rundir as ck
from ssvae.records.saved import load_model
from ssvae.training.config import TrainConfig
from ssvae.training.loop import open_run, train
from ssvae.training.stacked import stackable


def test_average_is_its_closed_form_over_the_steps_taken(tmp_path):
    """avg_n = d^n w_0 + sum_k (1 - d) d^(n-k) w_k over the weights after each step, computed here in float64 from
    the weights recorded step by step: a wrong decay, a missed or doubled update, or an average that started
    elsewhere than at the initial weights all fail it."""
    decay, n = 0.7, 6
    run = open_run(TrainConfig(model="m2", epochs=1, ema=decay, **DIGITS_RUN), tmp_path / "r")
    params = list(run.model.parameters())
    weights = [[p.detach().double().clone() for p in params]]
    step = run.make_step()
    step.begin_epoch(*run.epoch_indices())
    for _ in range(n):
        step()
        weights.append([p.detach().double().clone() for p in params])
    run.close()
    for i, avg in enumerate(run.average.tensors):
        expected = decay**n * weights[0][i]
        for k in range(1, n + 1):
            expected = expected + (1 - decay) * decay ** (n - k) * weights[k][i]
        torch.testing.assert_close(avg.double(), expected, rtol=1e-5, atol=1e-6)
    assert not torch.equal(run.average.tensors[0], params[0])  # an average, not the last weights


def test_average_changes_nothing_in_training_and_is_what_is_validated_and_kept(tmp_path):
    on, off = tmp_path / "ema", tmp_path / "plain"
    train(TrainConfig(model="m2", epochs=3, ema=0.9, **DIGITS_RUN), on, progress=False)
    train(TrainConfig(model="m2", epochs=3, **DIGITS_RUN), off, progress=False)
    last_on, last_off = ck.load_checkpoint(on / "last.pt"), ck.load_checkpoint(off / "last.pt")
    for k, v in last_off["model"].items():  # the same trained weights, bit for bit
        assert torch.equal(v, last_on["model"][k]), k
    assert "averaged" in last_on and "averaged" not in last_off
    # the exported last model is the average, not the trained weights
    exported, _, _ = load_model(on / "model-last", "cpu")
    averaged = dict(zip([n for n, _ in exported.named_parameters()], last_on["averaged"]))
    state = exported.state_dict()
    for name, avg in averaged.items():
        assert torch.equal(state[name], avg), name
    # and the logged validation accuracy is the average's
    row = ck.read_history(on / "metrics.jsonl")[-1]
    run = open_run(TrainConfig(model="m2", epochs=3, ema=0.9, **DIGITS_RUN), on)
    with torch.no_grad():
        log_q = predict_log_proba(exported, run.data.x_val, seed=0)
    run.close()
    acc = 100 * float((log_q.argmax(1) == run.data.y_val).float().mean())
    assert acc == pytest.approx(row["val_accuracy"], abs=1e-4)
    plain = ck.read_history(off / "metrics.jsonl")[-1]
    assert row["train"] == plain["train"]  # the training statistics are the same steps'
    # `ssvae evaluate`'s last row reads the average too: its validation accuracy is the logged one, not the
    # trained weights' (which the run without --ema logged)
    last = evaluate_run(on, iw_samples=0, device="cpu", figures=False)["last"]
    assert last["val_accuracy"] == pytest.approx(row["val_accuracy"], abs=1e-4)
    assert plain["val_accuracy"] != pytest.approx(row["val_accuracy"], abs=1e-4)  # which the check tells apart


def test_ema_out_of_range_is_one_line(tmp_path, capsys):
    for bad in ("1", "-0.1"):
        args = ["train", "--dataset", "digits", "--epochs", "1", "--ema", bad, "--out", str(tmp_path / "r")]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "--ema must be" in err and "Traceback" not in err
    with pytest.raises(SSVAEError, match="ema must be below 1"):
        open_run(TrainConfig(model="m2", epochs=1, ema=1.0, **DIGITS_RUN), None)


def test_runs_with_an_average_train_one_by_one():
    assert stackable([TrainConfig(seed=0), TrainConfig(seed=1)])
    assert not stackable([TrainConfig(seed=0, ema=0.99), TrainConfig(seed=1, ema=0.99)])


def test_estimator_predicts_with_the_average():
    x, y = semi_labeled()
    params = dict(SMALL_ESTIMATOR, features=None, epochs=3, batch_size=50)
    plain = SemiSupervisedClassifier(**params).fit(x, y)
    averaged = SemiSupervisedClassifier(**params, ema=0.9).fit(x, y)
    trained = plain.train_state_["model"]
    for k, v in averaged.train_state_["model"].items():  # the same training...
        assert torch.equal(v, trained[k]), k
    kept = averaged.model_.state_dict()
    assert any(not torch.equal(kept[k], trained[k]) for k in trained)  # ...but the average kept
