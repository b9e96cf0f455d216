"""The scikit-learn estimator, saved models and `ssvae predict`, as a practitioner would use them."""

import json

import numpy as np
import pytest
import torch
from conftest import DEVICE
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from ssvae import SemiSupervisedClassifier
from ssvae.cli import main

TINY = dict(hidden=48, z_dim=8, classifier_hidden=48, batch_size=100, device=DEVICE, precision="fp32", random_state=0)


def digits_semi(labels_per_class=10, seed=0):
    """sklearn's digits as 0..16 integers, 10 labels per class kept, the rest marked -1; a test split of 300."""
    x, y = load_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=300, stratify=y, random_state=0)
    rng = np.random.default_rng(seed)
    keep = np.concatenate([rng.choice(np.flatnonzero(ytr == k), labels_per_class, replace=False) for k in range(10)])
    y_semi = np.full(len(ytr), -1)
    y_semi[keep] = ytr[keep]
    return xtr, y_semi, xte, yte


@pytest.fixture(scope="module")
def fitted_digits():
    xtr, y_semi, xte, yte = digits_semi()
    est = SemiSupervisedClassifier(epochs=15, **TINY).fit(xtr / 16.0, y_semi)
    return est, xte / 16.0, yte


def test_fit_with_unlabeled_marks_on_digits(fitted_digits):
    est, xte, yte = fitted_digits
    assert est.likelihood_ == "bernoulli"  # [0, 1] intensities
    assert est.n_features_in_ == 64 and list(est.classes_) == list(range(10))
    assert len(est.history_) == 15 and est.best_epoch_ == 15 and est.n_iter_ == 15  # default keeps the last
    assert est.score(xte, yte) > 0.75  # chance is 0.10
    proba = est.predict_proba(xte)
    assert proba.shape == (300, 10) and np.allclose(proba.sum(1), 1.0)
    np.testing.assert_allclose(np.exp(est.predict_log_proba(xte)), proba)
    np.testing.assert_array_equal(est.predict(xte), est.classes_[proba.argmax(1)])


def test_transform_and_sample(fitted_digits):
    est, xte, _ = fitted_digits
    z = est.transform(xte[:7])
    assert z.shape == (7, 8) and np.isfinite(z).all()
    imgs = est.sample(4, y=3, random_state=0)
    assert imgs.shape == (4, 64) and imgs.min() >= 0 and imgs.max() <= 1
    np.testing.assert_array_equal(imgs, est.sample(4, y=3, random_state=0))


def test_score_leaves_out_unlabeled_rows(fitted_digits):
    est, xte, yte = fitted_digits
    y = yte.copy()
    y[::2] = -1
    assert est.score(xte, y) == pytest.approx(est.score(xte[1::2], yte[1::2]))


def test_string_labels_round_trip_through_save_and_load(tmp_path):
    xtr, y_semi, xte, _ = digits_semi()
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    y_str = names[np.maximum(y_semi, 0)].astype(object)
    y_str[y_semi < 0] = -1  # sklearn's convention for string labels: an object array with -1 for unlabeled
    est = SemiSupervisedClassifier(epochs=3, **TINY).fit(xtr, y_str)  # 0..16 integers: Gaussian, standardised
    assert est.likelihood_ == "gaussian" and sorted(est.classes_) == list(est.classes_)
    assert set(est.predict(xte)) <= set(names)
    est.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["config.json", "model.safetensors"]
    assert not (tmp_path / "model" / "model.safetensors").read_bytes().startswith(b"\x80")  # not a pickle
    back = SemiSupervisedClassifier.load(tmp_path / "model", device="cpu")
    if DEVICE == "cpu":  # same weights, same arithmetic: the same bits
        np.testing.assert_array_equal(back.predict_proba(xte), est.predict_proba(xte))
        np.testing.assert_array_equal(back.transform(xte[:5]), est.transform(xte[:5]))
    else:  # fitted on an accelerator, read back on the CPU: same weights, other float rounding (seen: 2e-7 on CUDA)
        np.testing.assert_allclose(back.predict_proba(xte), est.predict_proba(xte), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(back.transform(xte[:5]), est.transform(xte[:5]), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(back.predict(xte), est.predict(xte))
    assert back.get_params()["epochs"] == 3 and back.n_features_in_ == 64


def test_tampered_weights_give_one_line(tmp_path, capsys, fitted_digits):
    est, xte, _ = fitted_digits
    est.save(tmp_path / "model")
    w = tmp_path / "model" / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[10:40] = b"\xff" * 30  # the JSON header is corrupted
    w.write_bytes(bytes(data))
    np.save(tmp_path / "x.npy", xte)
    assert main(["predict", str(tmp_path / "model"), str(tmp_path / "x.npy"), "--out", str(tmp_path / "p.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "model.safetensors is damaged" in err
    assert not (tmp_path / "p.csv").exists()
    w.write_bytes(bytes(data[: len(data) // 2]))  # truncated
    assert main(["predict", str(tmp_path / "model"), str(tmp_path / "x.npy"), "--out", str(tmp_path / "p.csv")]) == 2
    assert "is damaged" in capsys.readouterr().err


def test_clone_grid_search_and_pipeline():
    xtr, y_semi, _, _ = digits_semi()
    base = SemiSupervisedClassifier(epochs=2, **TINY)
    assert clone(base).get_params() == base.get_params()
    lab = y_semi >= 0  # cross-validate on the labeled rows, as sklearn's scorers need true labels
    grid = GridSearchCV(base, {"mier": [False, True]}, cv=2).fit(xtr[lab] / 16.0, y_semi[lab])
    assert set(grid.cv_results_["param_mier"]) == {False, True} and hasattr(grid, "best_estimator_")
    x, y = xtr[lab] / 16.0, y_semi[lab]
    scores = cross_val_score(base, x, y, cv=2)
    by_hand = [
        clone(base).fit(x[tr], y[tr]).score(x[te], y[te]) for tr, te in StratifiedKFold(2).split(x, y)
    ]  # the same folds, fits and scores without sklearn's machinery: identical (random_state fixes everything)
    np.testing.assert_array_equal(scores, by_hand)
    pipe = make_pipeline(FunctionTransformer(lambda x: x / 16.0), clone(base)).fit(xtr, y_semi)
    assert pipe.predict(xtr[:3]).shape == (3,)


def test_gaussian_likelihood_on_real_valued_table():
    x, y = load_breast_cancer(return_X_y=True)  # 30 real-valued features on very different scales
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=169, stratify=y, random_state=0)
    y_semi = np.full(len(ytr), -1)
    rng = np.random.default_rng(0)
    for k in (0, 1):
        idx = rng.choice(np.flatnonzero(ytr == k), 10, replace=False)
        y_semi[idx] = k
    est = SemiSupervisedClassifier(epochs=30, **TINY).fit(xtr, y_semi)
    assert est.likelihood_ == "gaussian"
    assert est.score(xte, yte) > 0.85  # chance (the majority class) is 0.63
    lik = est.model_.lik
    assert lik.log_scale.shape == (30,) and lik.log_scale.requires_grad  # one learned variance per feature


def test_early_stopping_holds_out_labels_and_elbo_holds_out_unlabeled():
    xtr, y_semi, _, _ = digits_semi()
    acc = SemiSupervisedClassifier(epochs=3, early_stopping=True, validation_fraction=0.2, **TINY).fit(xtr / 16, y_semi)
    assert acc.config_["derived"]["select"] == "val-accuracy"
    assert acc.config_["derived"]["n_labeled"] == 80 and acc.config_["derived"]["n_validation"] == 20
    assert all(r["val_accuracy"] is not None for r in acc.history_)
    assert acc.best_epoch_ == max(range(3), key=lambda i: acc.history_[i]["val_accuracy"]) + 1
    elbo = SemiSupervisedClassifier(epochs=3, early_stopping="elbo", **TINY).fit(xtr / 16, y_semi)
    assert elbo.config_["derived"]["select"] == "val-elbo" and elbo.config_["derived"]["n_labeled"] == 100
    assert elbo.best_epoch_ == max(range(3), key=lambda i: elbo.history_[i]["score"]) + 1


def test_warm_start_and_partial_fit_continue():
    xtr, y_semi, _, _ = digits_semi()
    est = SemiSupervisedClassifier(epochs=2, warm_start=True, **TINY).fit(xtr / 16, y_semi)
    first = {k: v.clone() for k, v in est.model_.state_dict().items()}
    est.fit(xtr / 16, y_semi)
    assert est.n_iter_ == 4 and len(est.history_) == 4
    assert any(not torch.equal(first[k], v) for k, v in est.model_.state_dict().items())
    cold = SemiSupervisedClassifier(epochs=2, **TINY).fit(xtr / 16, y_semi)
    cold.fit(xtr / 16, y_semi)
    assert cold.n_iter_ == 2
    inc = SemiSupervisedClassifier(**TINY)
    inc.partial_fit(xtr / 16, y_semi).partial_fit(xtr / 16, y_semi)
    assert inc.n_iter_ == 2


@pytest.mark.parametrize(
    "y_change,x_change,match",
    [
        (lambda y: np.full_like(y, -1), None, "no labeled example"),
        (lambda y: np.where(y == 3, 3, -1), None, "only one class"),
        (lambda y: y[:-1], None, "inconsistent numbers of samples"),
        (None, lambda x: np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x), "NaN"),
    ],
)
def test_bad_fit_input_is_one_clear_error(y_change, x_change, match):
    xtr, y_semi, _, _ = digits_semi()
    x = x_change(xtr) if x_change else xtr
    y = y_change(y_semi) if y_change else y_semi
    with pytest.raises(ValueError, match=match):
        SemiSupervisedClassifier(epochs=1, **TINY).fit(x, y)


def test_early_stopping_never_leaves_a_class_without_training_labels():
    from ssvae.data import own_marks_split

    xtr, y_semi, _, _ = digits_semi()
    y = y_semi.copy()
    y[np.flatnonzero(y == 3)[1:]] = -1  # class 3 keeps a single label
    split = own_marks_split(y, 46, seed=0)
    assert len(split.validation) == 46 and np.flatnonzero(y == 3)[0] in split.labeled
    assert set(y[split.labeled]) == set(range(10))  # every class keeps at least one training label
    SemiSupervisedClassifier(epochs=1, early_stopping=True, validation_fraction=0.5, **TINY).fit(xtr / 16, y)
    with pytest.raises(ValueError, match="keep a training label in every class"):  # 99 of 100: impossible
        SemiSupervisedClassifier(epochs=1, early_stopping=True, validation_fraction=0.99, **TINY).fit(xtr / 16, y)


def test_predict_with_other_feature_count(fitted_digits):
    est, xte, _ = fitted_digits
    with pytest.raises(ValueError, match="X has 63 features, but SemiSupervisedClassifier is expecting 64"):
        est.predict(xte[:, :63])


def test_predict_command_on_a_folder_of_pngs(tmp_path):
    from PIL import Image

    x, y_semi, xte, yte = digits_semi()
    imgs = (x.reshape(-1, 8, 8) * 255 / 16).astype(np.uint8)  # [N, H, W] uint8 images
    est = SemiSupervisedClassifier(epochs=3, **TINY).fit(imgs, y_semi)
    est.save(tmp_path / "model")
    test_imgs = (xte.reshape(-1, 8, 8)[:12] * 255 / 16).astype(np.uint8)
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, im in enumerate(test_imgs):
        Image.fromarray(im).convert("RGB").save(folder / f"img{i:02d}.png")  # RGB files: converted to gray
    assert main(["predict", str(tmp_path / "model"), str(folder), "--out", str(tmp_path / "p.csv")]) == 0
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0] == "id,predicted," + ",".join(f"p_{k}" for k in range(10))
    assert [r.split(",")[0] for r in rows[1:]] == [f"img{i:02d}.png" for i in range(12)]
    expected = est.predict_proba(test_imgs)
    got = np.array([[float(v) for v in r.split(",")[2:]] for r in rows[1:]])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert [int(r.split(",")[1]) for r in rows[1:]] == list(expected.argmax(1))
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(folder / "wrong.png")
    assert main(["predict", str(tmp_path / "model"), str(folder), "--out", str(tmp_path / "q.csv")]) == 2


# Checks that cannot apply, and why:
NOT_APPLICABLE = {
    # fits binary labels -1 and 1: -1 is the unlabeled mark here, as in sklearn.semi_supervised (sklearn exempts
    # its own LabelSpreading and SelfTrainingClassifier from this check by name)
    "check_classifiers_classes": "labels -1 and 1: -1 marks unlabeled rows (sklearn.semi_supervised convention)",
}


@parametrize_with_checks(
    [SemiSupervisedClassifier(epochs=10, lr=3e-3, **{**TINY, "batch_size": 50})],
    expected_failed_checks=lambda est: NOT_APPLICABLE,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_cli_trains_on_own_marks_with_string_labels_and_predicts(tmp_path, capsys):
    from conftest import tiny_arrays

    arrays = tiny_arrays()
    names = np.array(["red", "green", "blue"])
    y = names[arrays["y_train"]].astype("<U5")
    y[30:] = "-1"  # 30 labeled rows, 270 unlabeled
    np.savez(
        tmp_path / "own.npz",
        x_train=arrays["x_train"],
        y_train=y,
        x_test=arrays["x_test"],
        y_test=names[arrays["y_test"]],
    )
    run = tmp_path / "run"
    args = [
        "train",
        "--dataset",
        str(tmp_path / "own.npz"),
        "--epochs",
        "2",
        "--warmup-epochs",
        "1",
        "--batch-size",
        "50",
        "--labeled-batch-size",
        "30",
        "--device",
        DEVICE,
        "--out",
        str(run),
    ]
    assert main([*args, "--labels-per-class", "5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "drop --labels-per-class" in err and not run.exists()
    assert main(args) == 0
    meta = json.loads((run / "config.json").read_text())["derived"]
    assert meta["own_labels"] and meta["n_labeled"] == 30 and meta["n_unlabeled"] == 270
    assert meta["classes"] == ["blue", "green", "red"] and meta["select"] == "last"
    for kept in ("model-best", "model-last"):
        assert sorted(p.name for p in (run / kept).iterdir()) == ["config.json", "model.safetensors"]
    np.save(tmp_path / "x.npy", arrays["x_test"])
    assert main(["predict", str(run), str(tmp_path / "x.npy"), "--out", str(tmp_path / "p.csv")]) == 0
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0] == "id,predicted,p_blue,p_green,p_red" and len(lines) == 61
    assert {r.split(",")[1] for r in lines[1:]} <= set(names)
    est = SemiSupervisedClassifier.load(run, device="cpu")  # a run directory loads as a fitted estimator
    np.testing.assert_allclose(
        est.predict_proba(arrays["x_test"]), [[float(v) for v in r.split(",")[2:]] for r in lines[1:]], rtol=1e-5
    )


def test_the_graphs_stage_trains_twice_the_steps_where_labels_are_scarcest():
    """feature_epochs="auto" with a teacher and fewer than 5 labels per class: twice the stage's steps (60 epochs of
    Fashion-MNIST's 60,000 images in batches of 200, where 5 labels per class, or no teacher, give 30); an explicit
    feature_epochs is kept as given."""
    import ssvae.fit_inputs as fit_inputs
    from ssvae.data import Split
    from ssvae.training.auto import SCARCE_STAGE, auto_epochs, stage_scale

    fewer_than, times = SCARCE_STAGE
    assert (fewer_than, times) == (5, 2)
    assert stage_scale(1, True) == stage_scale(4.9, True) == 2
    assert stage_scale(5, True) == stage_scale(1, False) == stage_scale(10, True) == 1
    assert auto_epochs("feature_epochs", 300) == 30 and auto_epochs("feature_epochs", 300, 2) == 60
    assert auto_epochs("feature_epochs", 200, 2) == 90 and auto_epochs("feature_epochs", 20, 2) == 100  # the cap
    assert auto_epochs("feature_epochs", 600, 2) == 60  # twice LEAST's 30, not ceil(18,000 / 600) = 30
    rows = np.arange(60_000)
    split = Split(rows[:10], rows[10:], rows[:0])
    params = {**SemiSupervisedClassifier().get_params(), "teacher": 0.01, "enumerate_top": 2}

    def stage_epochs(per_class: float, **changed) -> int:
        cfg = fit_inputs.fit_config({**params, **changed}, "calder", "bernoulli", 0, None, "last", split, per_class)
        return cfg.feature_epochs

    assert stage_epochs(1) == stage_epochs(4) == 60
    assert stage_epochs(5) == stage_epochs(10) == stage_epochs(1, teacher=0.0) == 30
    assert stage_epochs(1, feature_epochs=45) == 45
    assert fit_inputs.labels_per_class(np.array([0, 1, -1, -1, 2, 2]), [0, 1, 2]) == 4 / 3


def test_features_auto_is_the_stage_for_many_images_and_few_labels_only(monkeypatch):
    """features="auto" (the default): with graphlearning, Calder et al.'s code taught by the graph (teacher="auto":
    0.01) for at least 10000 rows of intensities with few labels per class; without it, M1's code up to 30 labels per
    class; the inputs themselves for fewer rows, more labels and real-valued tables (where it lost, or was never
    measured)."""
    import ssvae.fit_inputs as fit_inputs
    from ssvae.core.features import AUTO_MAX_LABELS_PER_CLASS as MOST
    from ssvae.core.features import AUTO_MIN_INPUTS, AUTO_TEACHER, auto_features, auto_teacher
    from ssvae.core.features import TAUGHT_MAX_LABELS_PER_CLASS as TAUGHT

    least = AUTO_MIN_INPUTS
    assert SemiSupervisedClassifier().features == "auto" and SemiSupervisedClassifier().teacher == "auto"
    assert auto_features(least - 1, "bernoulli", 10) == "none" and auto_features(least, "bernoulli", 10) == "m1"
    assert auto_features(least, "bernoulli", MOST) == "m1" and auto_features(least, "bernoulli", MOST + 1) == "none"
    assert auto_features(10 * least, "gaussian", 10) == "none"
    assert auto_features(least, "bernoulli", TAUGHT, graph=True) == "calder"
    assert auto_features(least, "bernoulli", TAUGHT + 1, graph=True) == ("m1" if TAUGHT + 1 <= MOST else "none")
    assert auto_features(least - 1, "bernoulli", 1, graph=True) == "none"
    assert auto_teacher("calder", TAUGHT) == AUTO_TEACHER == 0.01 and auto_teacher("calder", TAUGHT + 1) == 0.0
    assert auto_teacher("m1", 1) == 0.0 and auto_teacher("none", 1) == 0.0
    rng = np.random.default_rng(0)
    x = rng.random((AUTO_MIN_INPUTS, 16), dtype=np.float32)
    y = np.full(len(x), -1)
    y[:20] = np.arange(20) % 2
    small = dict(epochs=1, feature_epochs=1, batch_size=500, hidden=8, z_dim=2, classifier_hidden=8, random_state=0)
    monkeypatch.setattr(fit_inputs, "graph_installed", lambda: False)
    clf = SemiSupervisedClassifier(**small, device=DEVICE).fit(x, y)
    assert clf.features_ == "m1" and clf.config_["features"]["name"] == "m1" and clf.teacher_ == 0.0
    clf = SemiSupervisedClassifier(**small, device=DEVICE).fit(x[:500], y[:500])
    assert clf.features_ == "none" and clf.config_["features"] is None
    y[: 2 * (MOST + 1)] = np.arange(2 * (MOST + 1)) % 2  # more than 30 labels per class
    assert SemiSupervisedClassifier(**small, device=DEVICE).fit(x, y).features_ == "none"
    pytest.importorskip("graphlearning")
    monkeypatch.setattr(fit_inputs, "graph_installed", lambda: True)
    y[:] = -1
    y[:20] = np.arange(20) % 2
    clf = SemiSupervisedClassifier(**small, device=DEVICE).fit(x, y)
    assert clf.features_ == "calder" and clf.teacher_ == 0.01 and clf.config_["features"]["name"] == "calder"
    assert SemiSupervisedClassifier(**small, teacher=0.0, device=DEVICE).fit(x, y).teacher_ == 0.0


def test_enumerate_top_auto_is_two_classes_from_ten_classes_on(tmp_path):
    """enumerate_top="auto" (the default): the top 2 classes where there are at least 10 (where it was measured),
    every class with fewer; the fitted choice trains the run, is recorded and comes back with a saved model."""
    from ssvae.training.auto import AUTO_ENUMERATE_TOP, auto_enumerate_top

    assert SemiSupervisedClassifier().enumerate_top == "auto" and AUTO_ENUMERATE_TOP == (2, 10)
    assert auto_enumerate_top(10) == 2 and auto_enumerate_top(100) == 2 and auto_enumerate_top(9) == 0
    rng = np.random.default_rng(0)
    x = rng.random((300, 8), dtype=np.float32)
    small = dict(epochs=1, batch_size=100, hidden=8, z_dim=2, classifier_hidden=8, random_state=0, device=DEVICE)
    for classes, top in ((10, 2), (3, 0)):
        y = np.full(len(x), -1)
        y[: 3 * classes] = np.arange(3 * classes) % classes
        clf = SemiSupervisedClassifier(**small).fit(x, y)
        assert clf.enumerate_top_ == top and clf.config_["config"]["enumerate_top"] == top
    clf = SemiSupervisedClassifier(**small, enumerate_top=5).fit(x, y)
    assert clf.enumerate_top_ == 5 and clf.config_["config"]["enumerate_top"] == 5
    clf.save(tmp_path / "m")
    assert SemiSupervisedClassifier.load(tmp_path / "m").enumerate_top_ == 5
    with pytest.raises(ValueError, match="enumerate_top must be"):
        SemiSupervisedClassifier(**small, enumerate_top=1.5).fit(x, y)


def test_auto_epochs_follow_the_number_of_steps_an_epoch_takes():
    """epochs="auto" (the default): passes for about 5,000 optimizer steps (the feature stage: 9,000), at least 20
    (30) and at most 100, the model at least 1,000 steps: 20 and 30 on Fashion-MNIST's 55,000 training images, 100
    on digits' 1,500; batch_size="auto": an eighth of the unlabeled rows, 16 to 200."""
    from ssvae.training.auto import auto_batch, auto_epochs

    assert SemiSupervisedClassifier().epochs == SemiSupervisedClassifier().feature_epochs == "auto"
    assert SemiSupervisedClassifier().batch_size == "auto"
    assert auto_epochs("epochs", 549) == 20  # Fashion-MNIST in batches of 100: 10 would give 5,490 steps
    assert auto_epochs("epochs", 100) == 50 and auto_epochs("epochs", 99) == 51  # ceil(5000 / 99)
    assert auto_epochs("epochs", 12) == 100  # digits: the cap, not 5,000 steps
    # small data (issue 47): the cap lifted to make at least 1,000 steps, in batches of an eighth of the rows
    assert auto_epochs("epochs", 6) == 167 and auto_epochs("epochs", 0) == 1000 and auto_epochs("epochs", 10) == 100
    assert auto_epochs("feature_epochs", 6) == 100  # stage 1 keeps its cap
    assert [auto_batch(n) for n in (50, 128, 1000, 1599, 1600, 55_000)] == [16, 16, 125, 199, 200, 200]
    assert auto_epochs("feature_epochs", 550) == 30 and auto_epochs("feature_epochs", 200) == 45
    xtr, y_semi, _, _ = digits_semi()  # 1,497 rows: 13 steps of 100 unlabeled rows an epoch
    est = SemiSupervisedClassifier(**TINY).partial_fit(xtr / 16, y_semi)
    cfg = est.config_["config"]
    assert (cfg["epochs"], cfg["warmup_epochs"], cfg["feature_epochs"]) == (1, 20, 100)  # warm-up: a fifth of 100
    with pytest.raises(ValueError, match="epochs must be a whole number"):
        SemiSupervisedClassifier(epochs="many", **TINY).fit(xtr / 16, y_semi)


def test_a_fit_with_fewer_steps_than_the_rule_says_so(capsys):
    """Issue 47, item 2: a fit whose epochs make fewer optimizer steps than epochs="auto" would give these rows says
    so in the verbose first line, and warns once at its end (scikit-learn's ConvergenceWarning); a fit by the rule,
    and partial_fit (one epoch by design), do not."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    y = np.full(300, -1)
    y[:30] = np.arange(30) % 3
    small = dict(hidden=8, z_dim=2, classifier_hidden=8, device=DEVICE, precision="fp32", random_state=0)
    small.update(batch_size=100)  # 270 unlabeled rows: 2 steps an epoch; the rule: 500 epochs, 1,000 steps
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = SemiSupervisedClassifier(epochs="auto", **small).fit(x, y)  # the rule: no warning
    assert clf.config_["config"]["epochs"] == 500
    with pytest.warns(ConvergenceWarning, match=r"made 6 optimizer steps \(3 epochs of 2\), fewer than the 1000"):
        fitted = SemiSupervisedClassifier(epochs=3, verbose=True, **small).fit(x, y)
    assert "(6 steps: fewer than the 1000 the rule gives these rows" in capsys.readouterr().err
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fitted.partial_fit(x, y)  # partial_fit: one epoch by design, never warned
    small.pop("batch_size")  # "auto": an eighth of the 270 unlabeled rows, 8 steps an epoch, 125 epochs by the rule
    with pytest.warns(ConvergenceWarning, match=r"made 8 optimizer steps \(1 epochs of 8\), fewer than the 1000"):
        auto = SemiSupervisedClassifier(epochs=1, **small).fit(x, y)
    assert auto.config_["config"]["batch_size"] == auto.config_["config"]["labeled_batch_size"] == 33
