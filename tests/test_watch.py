"""Long runs that talk: plain progress lines without a terminal, TensorBoard events, class names, --version."""

import csv
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import SMALL_ESTIMATOR, semi_labeled, tiny_arrays

from ssvae import SemiSupervisedClassifier
from ssvae.cli import main
from ssvae.data import load_dataset
from ssvae.records import rundir as rd
from ssvae.training.config import TrainConfig
from ssvae.training.loop import train
from ssvae.training.watch import Watch

RUN = ["--dataset", "digits", "--labels-per-class", "5", "--batch-size", "100", "--labeled-batch-size", "100"]
RUN += ["--warmup-epochs", "1", "--device", "cpu", "--precision", "fp32"]
DIGITS = dict(
    dataset="digits", labels_per_class=5, batch_size=100, labeled_batch_size=100, warmup_epochs=1, device="cpu"
)
LINE = re.compile(
    r"^ssvae: \S+ epoch (\d+)/(\d+): val acc [\d.]+%, H\(q\(y\|x\)\) [\d.]+, I\(y;x\) [\d.]+, "
    r"[\d.]+ s/epoch, ETA \S+$"
)


def train_to_a_file(tmp_path, *extra):
    log = tmp_path / "run.log"
    cmd = [sys.executable, "-m", "ssvae", "train", *RUN, "--epochs", "3", "--out", str(tmp_path / "r"), *extra]
    with open(log, "w") as f:  # stderr is a file, as under nohup or a scheduler
        subprocess.run(cmd, stderr=f, stdout=subprocess.DEVNULL, check=True, timeout=300)
    return log.read_text().splitlines()


@pytest.mark.slow  # a subprocess: the package's import and a 3-epoch run
def test_without_a_terminal_one_plain_line_per_evaluation(tmp_path):
    lines = [line for line in train_to_a_file(tmp_path) if " epoch " in line]
    assert [LINE.match(line).groups() for line in lines] == [("1", "3"), ("2", "3"), ("3", "3")], lines
    assert not any("\r" in line or "it/s" in line for line in lines)  # no tqdm bar in the log


@pytest.mark.slow  # a subprocess: the package's import and a 3-epoch run
def test_quiet_says_nothing_while_training(tmp_path):
    assert [line for line in train_to_a_file(tmp_path, "--quiet") if " epoch " in line] == []


def test_long_epochs_get_a_line_in_between_and_a_fast_run_none(tmp_path, capsys):
    cfg = TrainConfig(model="m2", epochs=2, eval_every=2, **DIGITS)
    train(cfg, tmp_path / "a", progress=Watch(bar=False, lines=True, every=0.0))  # every step is "a minute"
    err = capsys.readouterr().err.splitlines()
    steps = [line for line in err if ": step " in line]
    n = rd.read_json(tmp_path / "a" / rd.CONFIG)["derived"]["steps_per_epoch"]
    assert len(steps) == 2 * n and steps[0].endswith(f"epoch 1/2: step 1 of {n}") and steps[-1].endswith(f"{n} of {n}")
    assert len([line for line in err if "val acc" in line]) == 1  # one evaluation (eval_every 2)
    train(cfg, tmp_path / "b", progress=Watch(bar=False, lines=True))  # the default minute: never reached here
    assert [line for line in capsys.readouterr().err.splitlines() if ": step " in line] == []


def test_stage_1_runs_through_the_same_loop_and_says_how_it_goes_inside_its_epochs(tmp_path, capsys):
    """Stage 1 is driven by the loop that drives stage 2: the same in-epoch lines (so a long stage is never silent
    for more than `every` seconds), a line per epoch with its ELBO, then stage 2's lines."""
    cfg = TrainConfig(
        model="m2",
        epochs=1,
        **DIGITS,
        features="m1",
        feature_epochs=2,
        model_options={"hidden": 16, "z_dim": 4, "classifier_hidden": 16},
    )
    train(cfg, tmp_path / "a", progress=Watch(bar=False, lines=True, every=0.0))
    err = capsys.readouterr().err.splitlines()
    n = rd.read_json(tmp_path / "a" / rd.CONFIG)["derived"]
    stage_steps = (n["n_labeled"] + n["n_unlabeled"]) // 100  # every training input, whole batches of 100
    stage1 = [line for line in err if line.startswith("ssvae: stage 1 (m1) epoch ")]
    expected = [f"epoch {e}/2: step {i} of {stage_steps}" for e in (1, 2) for i in range(1, stage_steps + 1)]
    assert [line for line in stage1 if ": step " in line] == [f"ssvae: stage 1 (m1) {x}" for x in expected], err
    ends = [line for line in stage1 if "ELBO" in line]
    assert [re.search(r"epoch (\d)/2: ELBO -\d+\.\d\d, ", line).group(1) for line in ends] == ["1", "2"], ends
    first_stage2 = next(i for i, line in enumerate(err) if line.startswith(f"ssvae: {tmp_path / 'a'} epoch"))
    assert err.index(ends[-1]) < first_stage2, err


def read_events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def test_tensorboard_events_per_run_read_back_by_tensorboard(tmp_path):
    pytest.importorskip("tensorboard")
    board = tmp_path / "board"
    out = tmp_path / "runs" / "m2-mier"
    args = ["train", *RUN, "--mier", "--epochs", "3", "--out", str(out), "--tensorboard", str(board), "--quiet"]
    assert main(args) == 0
    acc = read_events(board / "m2-mier")  # named like the run directory
    tags = acc.Tags()
    for tag in (
        "train/loss",
        "train/L",
        "train/U",
        "train/mi",
        "train/entropy",
        "val/accuracy",
        "schedule/lr",
        "schedule/kl_weight",
    ):
        assert tag in tags["scalars"], tag
    history = rd.read_history(out / rd.HISTORY)
    loss = acc.Scalars("train/loss")
    assert [e.step for e in loss] == [1, 2, 3]
    assert [e.value for e in loss] == pytest.approx([r["train"]["loss"] for r in history], rel=1e-6)
    assert [e.value for e in acc.Scalars("val/accuracy")] == pytest.approx([r["val_accuracy"] for r in history])
    assert {"reconstructions", "samples"} <= set(tags["images"])
    assert [e.step for e in acc.Images("samples")] == [1, 2, 3]


def test_estimator_writes_its_fit_to_tensorboard_dir(tmp_path):
    pytest.importorskip("tensorboard")
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    y = y.copy()
    y[300:] = -1
    est = SemiSupervisedClassifier(epochs=2, device="cpu", random_state=0, tensorboard_dir=str(tmp_path / "tb"))
    est.fit(x, y)
    assert [e.step for e in read_events(tmp_path / "tb").Scalars("train/loss")] == [1, 2]


def test_tensorboard_missing_is_one_line_and_nothing_is_written(tmp_path, monkeypatch, capsys):
    import builtins

    real = builtins.__import__

    def no_tensorboard(name, *a, **k):
        if name.startswith("torch.utils.tensorboard") or name.startswith("tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    out = tmp_path / "r"
    assert main(["train", *RUN, "--epochs", "1", "--out", str(out), "--tensorboard", str(tmp_path / "tb")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["ssvae: error: --tensorboard needs TensorBoard: pip install 'ssvae[tensorboard]'"]
    assert not out.exists() and not (tmp_path / "tb").exists()


def fake_fashion_mnist(folder):
    """A tiny stand-in for fashion_mnist.npz: ten classes, so that the set's class names apply."""
    arrays = tiny_arrays(n_train=400, n_test=100, k=10, side=8)
    np.savez(folder / "fashion_mnist.npz", **arrays)


def test_named_data_sets_carry_their_class_names_into_predictions(tmp_path, capsys):
    fake_fashion_mnist(tmp_path)
    ds = load_dataset("fashion-mnist", tmp_path)
    assert list(ds.classes[:3]) == ["T-shirt/top", "Trouser", "Pullover"] and list(ds.y_train[:3]) == [0, 1, 2]
    assert list(load_dataset(str(tmp_path / "fashion_mnist.npz")).classes) == list(range(10))  # user data: its own
    out = tmp_path / "r"
    args = ["train", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path), "--labels-per-class", "5"]
    args += ["--epochs", "1", "--warmup-epochs", "1", "--batch-size", "100", "--device", "cpu", "--out", str(out)]
    assert main(args) == 0
    np.save(tmp_path / "x.npy", tiny_arrays(n_train=20, n_test=20, k=10, side=8)["x_test"])
    assert main(["predict", str(out), str(tmp_path / "x.npy"), "--out", str(tmp_path / "p.csv")]) == 0
    rows = list(csv.reader(open(tmp_path / "p.csv")))
    assert rows[0][:4] == ["id", "predicted", "p_T-shirt/top", "p_Trouser"] and rows[0][-1] == "p_Ankle boot"
    assert all(r[1] in ds.classes for r in rows[1:])


def test_version_and_saving_onto_a_file(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and re.fullmatch(r"ssvae \d+\.\d+\.\d+\n", capsys.readouterr().out)
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    est = SemiSupervisedClassifier(epochs=1, device="cpu", random_state=0).fit(x[:300], y[:300])
    target = tmp_path / "some_file"
    target.write_text("kept")
    with pytest.raises(ValueError, match="is an existing file, not a folder"):
        est.save(target)
    assert target.read_text() == "kept" and sorted(p.name for p in tmp_path.iterdir()) == ["some_file"]
    est.save(tmp_path / "model")
    np.save(tmp_path / "x.npy", x[:5])
    (tmp_path / "taken").mkdir()
    assert main(["predict", str(tmp_path / "model"), str(tmp_path / "x.npy"), "--out", str(tmp_path / "taken")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "choose another --out" in err[0] and list((tmp_path / "taken").iterdir()) == []


def test_estimator_reports_stage_1_like_stage_2_after_saying_what_it_will_train(capsys):
    """verbose=True without a terminal: first one line naming both stages and the expected time, then a line per
    stage-1 epoch (its ELBO and ETA), then a line per stage-2 evaluation."""
    x, y = semi_labeled()
    est = SemiSupervisedClassifier(features="m1", feature_epochs=3, epochs=2, batch_size=100, verbose=True)
    est.set_params(**SMALL_ESTIMATOR).fit(x, y)
    lines = capsys.readouterr().err.strip().splitlines()
    assert re.fullmatch(
        r"ssvae: fitting stage 1 \(m1\) for 3 epochs of 3 steps, then m2 for 2 epochs of 2 steps \(4 steps: fewer than "
        r"the 1000 the rule gives these rows, epochs='auto'\), on 30 labeled and 270 unlabeled rows: about \S+ on this "
        r"machine",
        lines[0],
    ), lines[0]
    stage1 = [line for line in lines if "stage 1 (m1) epoch" in line]
    assert [re.search(r"epoch (\d)/3", line).group(1) for line in stage1] == ["1", "2", "3"], lines
    assert all(re.search(r"ELBO -?\d+\.\d\d, \d+\.\d s/epoch, ETA \S+$", line) for line in stage1), stage1
    stage2 = [line for line in lines if "m1+m2 epoch" in line]
    assert len(stage2) == 2 and lines.index(stage1[-1]) < lines.index(stage2[0]), lines


def test_the_fit_time_estimate_times_each_stage_at_the_runs_sizes():
    from ssvae.training.time_estimate import plan

    cfg = TrainConfig(
        model="m2",
        features="m1",
        feature_epochs=7,
        epochs=5,
        batch_size=64,
        labeled_batch_size=16,
        device="cpu",
        precision="fp32",
        model_options={"hidden": 16, "z_dim": 4},
    )
    stage1, stage2 = plan(cfg, 64, 10, 50, 1000)
    assert (stage1.epochs, stage1.steps_per_epoch) == (7, 1050 // 64)
    assert (stage2.epochs, stage2.steps_per_epoch) == (5, 1000 // 64)
    assert 0 < stage1.seconds_per_step < 10 and stage2.seconds == 5 * (1000 // 64) * stage2.seconds_per_step
    (alone,) = plan(TrainConfig(**{**cfg.__dict__, "features": "none"}), 64, 10, 50, 1000)
    assert alone.name == "m2"


def test_stage_1_writes_its_elbo_to_tensorboard_beside_stage_2(tmp_path):
    pytest.importorskip("tensorboard")
    x, y = semi_labeled()
    tb = tmp_path / "tb"
    SemiSupervisedClassifier(features="m1", feature_epochs=2, epochs=1, tensorboard_dir=str(tb), **SMALL_ESTIMATOR).fit(
        x, y
    )
    elbo = read_events(tb / "stage1").Scalars("stage1/elbo")
    assert [e.step for e in elbo] == [1, 2] and all(e.value < 0 for e in elbo)
    assert [e.step for e in read_events(tb).Scalars("train/loss")] == [1]
