"""The graph teacher (`--teacher`): its term against an independent computation (a wrong sign or weight fails), the
paper's objective untouched when it is off, its classes against graphlearning's own, its confidence against the
margins computed here, and a run with it as a user runs it: it trains, the CLI refuses bad settings in one line,
and the saved model predicts with no graph and no training data."""

import numpy as np
import pytest
import torch
from conftest import DIGITS_RUN, SMALL_ESTIMATOR, semi_labeled

from ssvae.cli import main
from ssvae.core.models import build_model, model_config
from ssvae.core.objectives import ObjectiveConfig, TermWeights, mean_weights, semi_supervised_loss, sum_weights
from ssvae.training.config import TrainConfig
from ssvae.training.stacked import stackable

W = TermWeights(0.3, 0.7, 0.5, 0.5, 40.0)


def small_m2():
    torch.manual_seed(0)
    model = build_model("m2", 16, 3, model_config("m2", z_dim=2, hidden=8, classifier_hidden=8), seed=0)
    xl, yl, xu = torch.rand(5, 16), torch.tensor([0, 1, 2, 0, 1]), torch.rand(6, 16)
    return model, xl, yl, xu


@pytest.mark.parametrize("mier", [False, True])
def test_the_teacher_adds_exactly_its_weighted_confident_log_likelihood(mier):
    model, xl, yl, xu = small_m2()
    labels, confidence = torch.tensor([2, 0, 1, 1, 0, 2]), torch.tensor([1.0, 0.5, 0.25, 1.0, 0.0, 0.75])
    off = ObjectiveConfig(mier=mier, weights=W)
    on = ObjectiveConfig(mier=mier, weights=W, teacher=0.2)
    targets = (labels, confidence)
    plain, _ = semi_supervised_loss(model, xl, yl, xu, torch.Generator().manual_seed(1), off, 0.5, targets)
    taught, stats = semi_supervised_loss(model, xl, yl, xu, torch.Generator().manual_seed(1), on, 0.5, targets)
    # independently: M2's q(y|x) is its classifier's softmax; the term is mean_u c_u log q(t_u|x_u)
    with torch.no_grad():
        log_q = torch.log_softmax(model.classifier_logits(xu), -1).double().numpy()
    term = np.mean(confidence.numpy() * log_q[np.arange(6), labels.numpy()])
    assert float((taught - plain).detach()) == pytest.approx(-0.2 * 40.0 * term, rel=1e-5)  # -J_T = -J - t w_P term
    assert float(stats["teacher_nll"]) == pytest.approx(-term, rel=1e-5)
    assert float(stats["loss"].detach()) == pytest.approx(float(taught.detach()))


def test_off_or_without_targets_the_loss_is_the_papers_bit_for_bit():
    model, xl, yl, xu = small_m2()
    targets = (torch.tensor([2, 0, 1, 1, 0, 2]), torch.ones(6))
    cfg = ObjectiveConfig(weights=W)
    paper, _ = semi_supervised_loss(model, xl, yl, xu, torch.Generator().manual_seed(1), cfg, 1.0)
    off, stats = semi_supervised_loss(
        model, xl, yl, xu, torch.Generator().manual_seed(1), ObjectiveConfig(weights=W), 1.0, targets
    )
    assert torch.equal(paper, off) and "teacher_nll" not in stats


def test_the_teacher_follows_the_rows_when_each_is_drawn_several_times():
    model, xl, yl, xu = small_m2()
    labels, confidence = torch.tensor([2, 0, 1, 1, 0, 2]), torch.tensor([1.0, 0.5, 0.25, 1.0, 0.1, 0.75])
    cfg = ObjectiveConfig(weights=W, teacher=1.0, mc_samples=3)
    _, stats = semi_supervised_loss(model, xl, yl, xu, torch.Generator().manual_seed(1), cfg, 1.0, (labels, confidence))
    with torch.no_grad():
        log_q = torch.log_softmax(model.classifier_logits(xu), -1)
    expected = -(confidence * log_q[torch.arange(6), labels]).mean()  # each row's S copies: the same mean
    assert float(stats["teacher_nll"]) == pytest.approx(float(expected), rel=1e-5)


def test_the_teachers_weight_is_the_label_terms_for_the_unlabeled_rows():
    w = sum_weights(100, 900, alpha=50.0)
    assert w.pseudo == pytest.approx(50.0 * 900 / 1000) and w.label == pytest.approx(50.0 * 100 / 1000)
    assert mean_weights(270, 5, alpha=2.0).pseudo == 2.0


def digits_code():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    x = (x / 16.0).astype(np.float32)
    return x, y, rng.permutation(len(y))


@pytest.mark.parametrize("per_class", [1, 5])
def test_the_classes_are_graphlearnings_own_and_the_confidence_ranks_the_margins(per_class):
    gl = pytest.importorskip("graphlearning")
    from ssvae.graph.knn import knn_graph
    from ssvae.graph.teacher import BALANCE_FROM, pseudo_labels

    x, y, order = digits_code()
    lab = np.concatenate([order[y[order] == k][:per_class] for k in range(10)])
    unl = np.setdiff1d(np.arange(len(y)), lab)
    taught = pseudo_labels(x[lab], y[lab], x[unl], 10)
    # graphlearning itself, on the same graph: balanced to the labeled frequencies from BALANCE_FROM labels a class
    weights, _ = knn_graph(np.concatenate([x[lab], x[unl]]))
    priors = np.full(10, 0.1) if per_class >= BALANCE_FROM else None
    model = gl.ssl.poisson(weights, class_priors=priors)
    own = model.fit_predict(np.arange(len(lab)), y[lab])[len(lab) :]
    np.testing.assert_array_equal(taught.labels, own)
    assert (taught.labels == y[unl]).mean() > 0.6  # the graph knows digits
    scores = (model.prob - model.prob.min()) / (model.prob - model.prob.min()).max() * model.weights
    top2 = np.sort(scores[len(lab) :], 1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    assert taught.confidence.min() > 0 and taught.confidence.max() == 1.0
    assert taught.confidence[np.argmax(margin)] == 1.0 and taught.confidence[np.argmin(margin)] == 1 / len(unl)
    assert (np.diff(taught.confidence[np.argsort(margin, kind="stable")]) >= 0).all()  # ranks follow the margins


def test_a_run_with_the_teacher_trains_logs_its_term_and_cannot_stack(tmp_path):
    pytest.importorskip("graphlearning")
    from ssvae.records import rundir as ck
    from ssvae.training.loop import train

    cfg = TrainConfig(model="m2", epochs=2, teacher=0.5, **DIGITS_RUN)
    train(cfg, tmp_path / "r", progress=False)
    rows = ck.read_history(tmp_path / "r" / ck.HISTORY)
    assert len(rows) == 2 and rows[-1]["train"]["teacher_nll"] > 0
    assert not stackable([cfg, TrainConfig(model="m2", epochs=2, teacher=0.5, **{**DIGITS_RUN, "seed": 1})])


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--teacher", "-1"], "--teacher must be 0 or more, got -1.0"),
        (["--teacher", "nan"], "--teacher"),
        (["--teacher", "1", "--model", "classifier"], "--teacher needs a generative model"),
    ],
)
def test_bad_teacher_settings_are_one_line(tmp_path, capsys, flags, words):
    argv = ["train", "--dataset", "digits", "--labels-per-class", "5", "--epochs", "1", "--out", str(tmp_path / "r")]
    assert main([*argv, *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert not (tmp_path / "r").exists()


def test_the_estimator_is_taught_and_its_saved_model_predicts_without_a_graph(tmp_path, monkeypatch):
    pytest.importorskip("graphlearning")
    from ssvae import SemiSupervisedClassifier
    from ssvae.graph import knn

    x, y = semi_labeled(60)
    clf = SemiSupervisedClassifier(teacher=0.5, epochs=2, **SMALL_ESTIMATOR).fit(x, y)
    assert "teacher_nll" in clf.history_[-1]["train"]
    clf.save(tmp_path / "m")

    def no_graph(*args, **kwargs):
        raise AssertionError("prediction built a graph")

    monkeypatch.setattr(knn, "knn_graph", no_graph)
    loaded = SemiSupervisedClassifier.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(x[:50]), clf.predict(x[:50]))


def test_reproduce_gives_the_teacher_to_the_generative_rows_only(tmp_path, monkeypatch):
    """`ssvae reproduce --teacher`: every generative row is taught; the supervised-only rows (no unlabeled term)
    train as ever instead of being refused."""
    from ssvae.experiments import reproduce as rp

    seen = []
    monkeypatch.setattr(rp, "run_points", lambda points, *args, **kwargs: seen.extend(points))
    base = rp.base_config(None, "cpu", teacher=0.01, epochs=1)
    specs = rp.grid({1}, ["digits"], 1, 5, [], ["m2", "classifier"])
    rp.run_grid(specs, tmp_path, base, 0, baselines=False)
    taught = {(p.cfg.model, p.cfg.mier): p.cfg.teacher for p in seen}
    assert taught == {("m2", False): 0.01, ("m2", True): 0.01, ("classifier", False): 0.0}
