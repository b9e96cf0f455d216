"""Fault injection: kill -9, damaged checkpoints, a full disk, two writers, and a table of bad inputs.

Each bad input must end in one line on stderr that names the problem, exit status 2, and a run directory left
exactly as it was (or never created). Each fault must lose no finished work: rerunning the same command
resumes and ends bit-identical to a run that was never interrupted.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import DIGITS_RUN, SMALL_ESTIMATOR, semi_labeled, tiny_arrays

from ssvae import files
from ssvae.cli import main
from ssvae.errors import SSVAEError
from ssvae.records import rundir as ck
from ssvae.training.config import TrainConfig
from ssvae.training.loop import open_run, train
from ssvae.training.run import Run

SMALL = {"hidden": 32, "z_dim": 4, "classifier_hidden": 32}  # tiny networks: these tests are about files
FAST = dict(DIGITS_RUN, device="cpu", model_options=SMALL)  # the CPU, whatever SSVAE_TEST_DEVICE says
CLI = ["--dataset", "digits", "--labels-per-class", "10", "--batch-size", "100", "--labeled-batch-size", "100"]
CLI += ["--warmup-epochs", "1", "--device", "cpu", "--precision", "fp32"]


def snapshot(root: Path) -> dict[str, str] | None:
    """Every file under root with a hash of its bytes; None when root does not exist."""
    if not root.exists():
        return None
    if root.is_file():
        return {"": hashlib.sha256(root.read_bytes()).hexdigest()}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def weights(run: Path) -> dict[str, torch.Tensor]:
    return ck.load_checkpoint(run / ck.LAST)["model"]


def history(run: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "train_seconds"} for r in ck.read_history(run / ck.HISTORY)]


def assert_same_run(a: Path, b: Path) -> None:
    assert history(a) == history(b)
    wa, wb = weights(a), weights(b)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    assert not list(b.glob("*.tmp")) and not list(b.glob(".*.tmp"))


def cli_env() -> dict[str, str]:
    src = str(Path(__file__).parents[1] / "src")
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}


# --------------------------------------------------------------------------------------------------------
# kill -9


@pytest.mark.slow
def test_kill_9_at_random_points_always_resumes_to_the_same_result(tmp_path):
    """A process killed anywhere (starting up, mid-step, mid-evaluation, mid-checkpoint) loses at most the epoch
    in flight: killed again and again, the rerun ends bit-identical to an uninterrupted run."""
    epochs = 16  # enough that five kills, each a fraction of an epoch after the next log line, cannot reach the end
    cmd = [sys.executable, "-m", "ssvae", "train", "--model", "m2", "--mier", "--epochs", str(epochs), *CLI]
    ref = tmp_path / "uninterrupted"
    subprocess.run([*cmd, "--out", str(ref)], check=True, env=cli_env(), capture_output=True)
    per_epoch = ck.read_history(ref / ck.HISTORY)[-1]["train_seconds"] / epochs  # training only, no start-up
    run = tmp_path / "killed"
    rng = random.Random(0)
    kills = []
    for attempt in range(5):
        done = len(ck.read_history(run / ck.HISTORY))
        p = subprocess.Popen(
            [*cmd, "--out", str(run)], env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        if attempt > 0:  # the first dies while starting up; the others after logging one more epoch, then later
            while len(ck.read_history(run / ck.HISTORY)) <= done and p.poll() is None:
                time.sleep(0.02)
        time.sleep(rng.uniform(0, per_epoch))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills.append(len(ck.read_history(run / ck.HISTORY)))
        p.wait()
        assert p.returncode in (0, -signal.SIGKILL), p.stderr.read().decode()
    assert len(kills) >= 4 and max(kills) < epochs, kills  # the kills hit running training
    subprocess.run([*cmd, "--out", str(run)], check=True, env=cli_env(), capture_output=True)  # finish
    assert_same_run(ref, run)


# --------------------------------------------------------------------------------------------------------
# damaged checkpoints


class Payload:
    """A pickle that would create a file if it were ever unpickled with code execution allowed."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _damage(kind: str, path: Path, marker: Path) -> None:
    good = path.read_bytes()
    damaged = {
        "truncated": lambda: good[: len(good) // 2],
        "empty": lambda: b"",
        "random": lambda: np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "pickle with code": lambda: pickle.dumps({"model": Payload(marker)}),
    }[kind]()
    path.write_bytes(damaged)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished 2-epoch run directory, made as the CLI flags in CLI make it; copied by each test that damages it."""
    run = tmp_path_factory.mktemp("trained") / "run"
    train(TrainConfig(model="m2", epochs=2, **{**FAST, "model_options": {}}), run, progress=False)
    return run


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["truncated", "empty", "random", "pickle with code"])
@pytest.mark.parametrize("which", ["last.pt", "best.pt"])
def test_damaged_checkpoint_is_named_in_one_line_and_restart_fixes_it(tmp_path, trained, capsys, kind, which):
    run = _copy(trained, tmp_path / "run")
    marker = tmp_path / "code-ran"
    _damage(kind, run / which, marker)
    before = snapshot(run)
    command = "train" if which == "last.pt" else "evaluate"
    argv = ["train", "--model", "m2", "--epochs", "3", *CLI, "--out", str(run)]
    if command == "evaluate":
        argv = ["evaluate", str(run), "--no-figures"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(run / which) in err[0] and "--restart" in err[0], err
    assert not marker.exists()  # the pickle's code never ran
    assert snapshot(run) == before
    assert main(["train", "--model", "m2", "--epochs", "2", *CLI, "--out", str(run), "--restart"]) == 0
    assert_same_run(trained, run)  # started over: the same run as the first time


def test_history_line_cut_off_by_a_crash_is_redone(tmp_path, trained):
    run = _copy(trained, tmp_path / "run")
    ref = _copy(trained, tmp_path / "ref")
    with open(run / ck.HISTORY, "a") as f:
        f.write('{"epoch": 3, "step": 4')  # killed mid-append of epoch 3, before its checkpoint
    cfg = TrainConfig(model="m2", epochs=3, **{**FAST, "model_options": {}})
    train(cfg, run, progress=False)
    train(cfg, ref, progress=False)
    assert_same_run(ref, run)


# --------------------------------------------------------------------------------------------------------
# full disk


def _fill_after_epoch_one(fill):
    def hook(epoch, row):
        if epoch == 1:
            fill()

    return hook


def _check_disk_full_then_resume(run: Path, ref: Path, cfg: TrainConfig, fill, unfill) -> None:
    with pytest.raises(SSVAEError, match="no space left") as e:
        train(cfg, run, on_epoch_end=_fill_after_epoch_one(fill), progress=False)
    assert "\n" not in str(e.value) and "resume" in str(e.value)
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]  # no half-written temporary left behind
    assert ck.load_checkpoint(run / ck.LAST)["epoch"] == 1  # the last good checkpoint is intact
    unfill()
    train(cfg, run, progress=False)  # the same command again, with space
    train(cfg, ref, progress=False)
    assert_same_run(ref, run)


def test_disk_full_during_a_checkpoint_patched_writer(tmp_path, monkeypatch):
    """Every write fails with ENOSPC after a few bytes, from epoch 2 on; then space comes back."""
    cfg = TrainConfig(model="m2", epochs=3, **FAST)
    real_save, full = torch.save, {"on": False}

    def save(obj, f, *a, **k):
        if full["on"]:
            f.write(b"PK\x03\x04 half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(files.torch, "save", save)
    _check_disk_full_then_resume(
        tmp_path / "run", tmp_path / "ref", cfg, lambda: full.update(on=True), lambda: full.update(on=False)
    )


def test_disk_full_on_a_real_small_file_system(tmp_path):
    """The same on a tmpfs that really fills up (needs root and mount; skipped where the platform refuses)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    import shutil

    mount = ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)]
    if os.geteuid() != 0 or not shutil.which("mount") or subprocess.run(mount, capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        cfg = TrainConfig(model="m2", epochs=3, **FAST)
        filler = mnt / "filler"

        def fill():
            free = os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize
            filler.write_bytes(b"\0" * max(0, free - 2048))

        _check_disk_full_then_resume(mnt / "run", tmp_path / "ref", cfg, fill, filler.unlink)
    finally:
        subprocess.run(["umount", str(mnt)])


# --------------------------------------------------------------------------------------------------------
# two writers


def test_second_writer_is_refused_naming_the_holder(tmp_path):
    run = tmp_path / "run"
    first = open_run(TrainConfig(model="m2", epochs=2, **FAST), run)
    try:
        with pytest.raises(SSVAEError, match=f"PID {os.getpid()}"):
            open_run(TrainConfig(model="m2", epochs=2, **FAST), run)
    finally:
        first.close()
    open_run(TrainConfig(model="m2", epochs=2, **FAST), run).close()  # released: the next writer is welcome


@pytest.mark.slow
def test_two_concurrent_cli_writers(tmp_path):
    """Two `ssvae train` on one --out: the second is refused in one line naming the first's PID; the first
    finishes with each epoch logged once. The first is held still (SIGSTOP) while the second tries."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "ssvae", "train", "--model", "m2", "--epochs", "4", *CLI, "--out", str(run)]
    first = subprocess.Popen(cmd, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not (run / ck.HISTORY).exists() and first.poll() is None and time.time() < deadline:
            time.sleep(0.01)  # the history file appears once the first holds the lock
        first.send_signal(signal.SIGSTOP)
        assert first.poll() is None, "the first run ended before it could be held"
        second = subprocess.run(cmd, env=cli_env(), capture_output=True, text=True)
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and f"PID {first.pid}" in lines[0], lines
    finally:
        first.send_signal(signal.SIGCONT)
        assert first.wait(timeout=300) == 0
    assert [r["epoch"] for r in ck.read_history(run / ck.HISTORY)] == [1, 2, 3, 4]


# --------------------------------------------------------------------------------------------------------
# bad inputs: one line, exit 2, nothing written


def _npz(tmp: Path, name: str, **change) -> str:
    arrays = {**tiny_arrays(), **change}
    np.savez(tmp / name, **arrays)
    return str(tmp / name)


def _bad_files(tmp: Path) -> dict[str, str]:
    a = tiny_arrays()
    y10 = a["y_train"].astype(np.int64)
    y10[0] = 10
    marked = a["y_train"].astype(np.int64)
    marked[::2] = -1
    (tmp / "text.npz").write_text("x_train,y_train\n1,2\n")
    np.savez(tmp / "keys.npz", x_train=a["x_train"], y_train=a["y_train"])
    return {
        "empty_train": _npz(tmp, "empty_train.npz", x_train=a["x_train"][:0], y_train=a["y_train"][:0]),
        "empty_test": _npz(tmp, "empty_test.npz", x_test=a["x_test"][:0], y_test=a["y_test"][:0]),
        "label10": _npz(tmp, "label10.npz", y_train=y10),
        "one_class": _npz(tmp, "one_class.npz", y_train=np.zeros_like(a["y_train"])),
        "text": str(tmp / "text.npz"),
        "keys": str(tmp / "keys.npz"),
        "nan": _npz(tmp, "nan.npz", x_train=np.full((300, 4, 4), np.nan, dtype=np.float32)),
        "range": _npz(tmp, "range.npz", x_train=a["x_train"].astype(np.int64) * 3),
        "unknown_test_label": _npz(tmp, "unknown.npz", y_test=a["y_test"].astype(np.int64) + 5),
        "unlabeled_test": _npz(tmp, "unl_test.npz", y_test=np.full(60, -1)),
        "length": _npz(tmp, "length.npz", y_train=a["y_train"][:-1]),
        "five_d": _npz(tmp, "five_d.npz", x_train=a["x_train"].reshape(300, 1, 4, 4, 1)),
        "pixels": _npz(tmp, "pixels.npz", x_test=np.zeros((60, 5, 5), dtype=np.uint8)),
        "fractional_labels": _npz(tmp, "frac.npz", y_train=a["y_train"] + 0.5),
        "marked": _npz(tmp, "marked.npz", y_train=marked),
        "no_arrays": _empty_npz(tmp / "no_arrays.npz"),
        "complex": _npz(tmp, "complex.npz", x_train=a["x_train"] + 1j),
        "complex_npy": _npy(tmp / "complex.npy", np.ones((3, 16)) * 1j),
        "object_npy": _npy(tmp / "object.npy", np.array([{"a": 1}, None], dtype=object)),
        "bomb": _png_header(tmp / "bomb", 60000, 60000),
        "big": _png_header(tmp / "big", 10000, 10000),
        **_bad_own_files(tmp),
    }


def _bad_own_files(tmp: Path) -> dict[str, str]:
    """Folders of images and tables as users hold them, each wrong in one way (issue 46)."""
    from PIL import Image

    def folder(name: str, classes: dict[str, list[tuple[int, int]]]) -> str:
        for cls, sizes in classes.items():
            (tmp / name / cls).mkdir(parents=True)
            for i, (w, h) in enumerate(sizes):
                Image.new("L", (w, h), 40 * i).save(tmp / name / cls / f"{i}.png")
        return str(tmp / name)

    (tmp / "no_classes").mkdir()
    (tmp / "no_classes" / "loose.png").write_bytes(b"")
    no_images = folder("no_images", {"cat": [(4, 4)] * 3})
    (tmp / "no_images" / "dog").mkdir()
    (tmp / "no_images" / "dog" / "notes.txt").write_text("no pictures here")
    unreadable = folder("unreadable", {"cat": [(4, 4)] * 3, "dog": [(4, 4)] * 3})
    (tmp / "unreadable" / "dog" / "broken.png").write_bytes(b"\x89PNG not really")
    loop = folder("loop", {"cat": [(4, 4)] * 3, "dog": [(4, 4)] * 3})
    (tmp / "loop" / "cat" / "again").symlink_to(tmp / "loop" / "cat", target_is_directory=True)
    rows = "a,b,label\n" + "".join(f"{i},{i % 3},{'' if i % 2 else (i // 2) % 3}\n" for i in range(20))
    (tmp / "table.csv").write_text(rows)
    (tmp / "unlabeled.csv").write_text("a,b,label\n" + "".join(f"{i},{i},\n" for i in range(20)))
    (tmp / "few_labels.csv").write_text("a,label\n1,x\n2,y\n3,y\n4,\n5,\n")
    return {
        "no_classes": str(tmp / "no_classes"),
        "no_images": no_images,
        "unreadable": unreadable,
        "mixed": folder("mixed", {"cat": [(4, 4), (4, 4), (6, 6)], "dog": [(4, 4)] * 3}),
        "loop": loop,
        "table": str(tmp / "table.csv"),
        "all_empty": str(tmp / "unlabeled.csv"),
        "few_labels": str(tmp / "few_labels.csv"),
    }


def _empty_npz(path: Path) -> str:
    np.savez(path)
    return str(path)


def _npy(path: Path, x: np.ndarray) -> str:
    np.save(path, x, allow_pickle=True)
    return str(path)


def _png_header(folder: Path, w: int, h: int) -> str:
    """A folder with one PNG whose header claims w x h pixels (its data cut short): decoding it would be a
    decompression bomb, so it must be refused from its header."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    folder.mkdir()
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    (folder / "a.png").write_bytes(png)
    return str(folder)


TRAIN = ["train", "--model", "m2", "--epochs", "1", "--warmup-epochs", "0", "--device", "cpu", "--precision", "fp32"]
TINY = ["--labels-per-class", "5"]
DIGITS = ["--dataset", "digits", *TINY]
SMALL_CLI = ["--hidden", "16", "--z-dim", "4", "--classifier-hidden", "16", "--quiet"]  # tiny networks, no lines

# (id, argv with {f[...]} file names, {out} the run directory, {run} a trained one, {file} a plain file; the
#  words the one line must contain)
BAD = [
    ("empty x_train", "--dataset {f[empty_train]} {tiny} --out {out}", "x_train is empty"),
    ("empty x_test", "--dataset {f[empty_test]} {tiny} --out {out}", "x_test is empty"),
    ("stray label", "--dataset {f[label10]} {tiny} --out {out}", "class 10 has only 1"),
    ("one class", "--dataset {f[one_class]} {tiny} --out {out}", "only one class"),
    ("text named .npz", "--dataset {f[text]} {tiny} --out {out}", "not an .npz archive"),
    ("missing arrays", "--dataset {f[keys]} {tiny} --out {out}", "lacks x_test, y_test"),
    ("NaN pixels", "--dataset {f[nan]} {tiny} --out {out}", "NaN"),
    ("pixels above 255", "--dataset {f[range]} {tiny} --out {out}", "0..255"),
    ("test label unseen", "--dataset {f[unknown_test_label]} {tiny} --out {out}", "y_test has labels"),
    ("unlabeled test", "--dataset {f[unlabeled_test]} {tiny} --out {out}", "every test example needs"),
    ("label count", "--dataset {f[length]} {tiny} --out {out}", "one label per image"),
    ("5-d images", "--dataset {f[five_d]} {tiny} --out {out}", "expected [N, H, W]"),
    ("pixel counts differ", "--dataset {f[pixels]} {tiny} --out {out}", "pixels but x_test"),
    ("fractional labels", "--dataset {f[fractional_labels]} {tiny} --out {out}", "must be integers or strings"),
    ("labels per class on -1 data", "--dataset {f[marked]} {tiny} --out {out}", "drop --labels-per-class"),
    ("no such npz", "--dataset {tmp}/nope.npz {tiny} --out {out}", "no such file"),
    ("unknown data set", "--dataset nope {tiny} --out {out}", "unknown dataset"),
    ("data dir missing", "--dataset mnist --data-dir {tmp}/no/dir {tiny} --out {out}", "is not a folder"),
    ("out is a file", "--dataset {f[marked]} --out {file}", "existing file"),
    ("out unwritable", "--dataset {f[marked]} --out /proc/ssvae/run", "run directory"),
    ("negative beta", "--dataset {f[marked]} --mier --beta -5 --out {out}", "--beta must be 0 or more"),
    ("negative gamma", "--dataset {f[marked]} --mier --gamma -1 --out {out}", "--gamma must be 0 or more"),
    ("repeated seeds", "--dataset {f[marked]} --seeds 1 1 --out {out}", "--seeds repeats 1"),
    ("epochs 0", "--dataset {f[marked]} --epochs 0 --out {out}", "--epochs must be at least 1"),
    ("lr 0", "--dataset {f[marked]} --lr 0 --out {out}", "--lr must be positive"),
    ("lr negative", "--dataset {f[marked]} --lr -0.1 --out {out}", "--lr must be positive"),
    ("batch 0", "--dataset {f[marked]} --batch-size 0 --out {out}", "--batch-size must be at least 1"),
    ("labeled batch 0", "--dataset {f[marked]} --labeled-batch-size 0 --out {out}", "--labeled-batch-size"),
    ("eval every 0", "--dataset {f[marked]} --eval-every 0 --out {out}", "--eval-every"),
    ("decay every 0", "--dataset {f[marked]} --lr-decay-every 0 --out {out}", "--lr-decay-every"),
    ("labels per class 0", "--dataset digits --labels-per-class 0 --out {out}", "--labels-per-class must be"),
    ("too many labels", "--dataset digits --labels-per-class 500 --out {out}", "use at most"),
    ("val size negative", "--dataset digits --labels-per-class 5 --val-size -1 --out {out}", "--val-size"),
    ("val size too big", "--dataset digits --labels-per-class 5 --val-size 99999 --out {out}", "--val-size"),
    ("warm-up negative", "--dataset {f[marked]} --warmup-epochs -1 --out {out}", "--warmup-epochs"),
    ("alpha negative", "--dataset {f[marked]} --alpha -1 --out {out}", "--alpha must be 0 or more"),
    (
        "enumerate-top negative",
        "--dataset {f[marked]} --enumerate-top -1 --out {out}",
        "--enumerate-top must be 0 or more",
    ),
    ("unknown model", "--dataset {f[marked]} --model nope --out {out}", "nope"),
    ("unknown device", "--dataset {f[marked]} --device tpu9 --out {out}", "unknown device"),
    ("no GPU", "--dataset {f[marked]} --device cuda --out {out}", "no CUDA GPU"),
    ("unknown precision", "--dataset {f[marked]} --precision fp16 --out {out}", "invalid choice"),
    ("unknown weighting", "--dataset {f[marked]} --weighting none --out {out}", "invalid choice"),
    ("not a number", "--dataset {f[marked]} --epochs ten --out {out}", "invalid int value"),
    ("no --out", "--dataset {f[marked]}", "required: --out"),
    ("jobs 0", "--dataset {f[marked]} --jobs 0 --out {out}", "--jobs: must be at least 1"),
    ("select needs validation", "--dataset {f[marked]} --select val-accuracy --out {out}", "--select"),
    ("other settings", "--dataset {f[marked]} --mier --out {run}", "other settings"),
    ("evaluate: not a run", "evaluate {tmp}", "not a run directory"),
    ("evaluate: iw samples", "evaluate {run} --iw-samples -1", "--iw-samples must be"),
    ("predict: no model", "predict {tmp} {f[marked]} --out {tmp}/p.csv", "no saved model"),
    ("predict: no input", "predict {run} {tmp}/nope.npy --out {tmp}/p.csv", "nope.npy"),
    ("reproduce: table", "reproduce --table 7 --out {out}", "table"),
    ("reproduce: ablation", "reproduce --labels-ablation 100,lots --out {out}", "--labels-ablation"),
    ("reproduce: out is a file", "reproduce --datasets digits --out {file}", "existing file"),
    ("demo: out is a file", "demo --out {file}", "existing file"),
    ("report: empty", "report {tmp}/empty", "no finished runs"),
    # issue 32: non-finite settings, unusable folders, resource bounds, unreadable inputs
    ("min-logvar nan", "--dataset {f[marked]} --min-logvar nan --out {out}", "--min-logvar must be a finite number"),
    ("min-logvar inf", "--dataset {f[marked]} --min-logvar inf --out {out}", "--min-logvar must be a finite number"),
    ("kl-scale inf", "--dataset {f[marked]} --kl-scale inf --out {out}", "--kl-scale must be a finite number"),
    ("lr inf", "--dataset {f[marked]} --lr inf --out {out}", "--lr must be a finite number"),
    ("alpha inf", "--dataset {f[marked]} --alpha inf --out {out}", "--alpha must be a finite number"),
    ("grad-clip inf", "--dataset {f[marked]} --grad-clip inf --out {out}", "--grad-clip must be a finite number"),
    ("beta -inf", "--dataset {f[marked]} --mier --beta=-inf --out {out}", "--beta must be a finite number"),
    (
        "tensorboard is a file",
        "--dataset {f[marked]} --tensorboard {file} --out {out}",
        "is an existing file, not a folder",
    ),
    ("tensorboard in /proc", "--dataset {f[marked]} --tensorboard /proc/ssvae/tb --out {out}", "--tensorboard"),
    (
        "features dir is a file",
        "--dataset {f[marked]} --features m1 --features-dir {file} --out {out}",
        "--features-dir",
    ),
    (
        "features dir in /proc",
        "--dataset {f[marked]} --features m1 --features-dir /proc/ssvae/f --out {out}",
        "cannot write into --features-dir",
    ),
    ("mc-samples beyond memory", "--dataset {f[marked]} --mc-samples 100000000 --out {out}", "lower mc_samples"),
    (
        "batch beyond memory",
        "--dataset {f[marked]} --mc-samples 1000000 --batch-size 100 --out {out}",
        "GiB free",
    ),
    ("empty npz", "--dataset {f[no_arrays]} {tiny} --out {out}", "holds no arrays"),
    ("complex pixels", "--dataset {f[complex]} {tiny} --out {out}", "complex128"),
    ("predict: empty npz", "predict {run} {f[no_arrays]} --out {tmp}/p.csv", "holds no arrays"),
    ("predict: text as npz", "predict {run} {f[text]} --out {tmp}/p.csv", "not an .npz archive of arrays"),
    ("predict: complex", "predict {run} {f[complex_npy]} --out {tmp}/p.csv", "complex128 values"),
    ("predict: pickled npy", "predict {run} {f[object_npy]} --out {tmp}/p.csv", "without pickle"),
    ("predict: bomb header", "predict {run} {f[bomb]} --out {tmp}/p.csv", "more than the 4x4 pixels"),
    ("predict: big header", "predict {run} {f[big]} --out {tmp}/p.csv", "more than the 4x4 pixels"),
    # issue 46: a folder of images, a CSV table
    ("folder: no class folders", "--dataset {f[no_classes]} --out {out}", "holds no class folders"),
    ("folder: class without images", "--dataset {f[no_images]} --out {out}", "dog: a class folder with no images"),
    ("folder: unreadable image", "--dataset {f[unreadable]} --out {out}", "broken.png: not a readable image"),
    ("folder: mixed sizes", "--dataset {f[mixed]} --out {out}", "--image-size 4x4, the most common"),
    ("folder: bad --image-size", "--dataset {f[mixed]} --image-size 4by4 --out {out}", "is not WIDTHxHEIGHT"),
    ("folder: symlink loop", "--dataset {f[loop]} --out {out}", "a symlink loop"),
    ("folder: not there", "--dataset {tmp}/nowhere/ --out {out}", "unknown dataset"),
    ("table: no --label-column", "--dataset {f[table]} --out {out}", "give --label-column"),
    ("table: no such label column", "--dataset {f[table]} --label-column y --out {out}", "has no column 'y'"),
    ("table: no such id column", "--dataset {f[table]} --label-column label --id-column n --out {out}", "'n'"),
    ("table: labels all empty", "--dataset {f[all_empty]} --label-column label --out {out}", "empty in every row"),
    ("table: too few labels to test", "--dataset {f[few_labels]} --label-column label --out {out}", "at least 2"),
    ("table: not there", "--dataset {tmp}/nope.csv --label-column label --out {out}", "nope.csv: no such file"),
    ("table: labels per class", "--dataset {f[table]} --label-column label {tiny} --out {out}", "drop --labels"),
    ("predict: table for an image model", "predict {run} {f[table]} --out {tmp}/p.csv", "not trained on one"),
]


@pytest.fixture(scope="module")
def bad_input_world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad")
    files = _bad_files(tmp)
    run = tmp / "trained"
    assert main([*TRAIN, "--dataset", files["marked"], "--out", str(run)]) == 0
    (tmp / "afile").write_text("not a folder")
    (tmp / "empty").mkdir()
    return tmp, files, run


@pytest.mark.parametrize("argv, words", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_exit_2_and_nothing_written(bad_input_world, capsys, argv, words):
    if "--device cuda" in argv and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    tmp, files, run = bad_input_world
    out = tmp / "out"
    text = argv.format(f=files, tiny=" ".join(TINY), out=out, run=run, file=tmp / "afile", tmp=tmp)
    args = text.split()
    args = args if args[0] in ("demo", "evaluate", "predict", "reproduce", "report") else [*TRAIN, *args]
    before = {p: snapshot(p) for p in (tmp, out)}
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # a library's warning must not leak beside the one line either
        rc = run_cli(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2, (rc, err)
    assert len(err) == 1 and err[0].startswith("ssvae") and words in err[0], err
    assert {p: snapshot(p) for p in (tmp, out)} == before  # nothing written, nothing created


def run_cli(args: list[str]) -> int:
    """main()'s exit status, also when argparse exits on a usage error."""
    try:
        return main(args)
    except SystemExit as e:
        return e.code


# --------------------------------------------------------------------------------------------------------
# help


def test_every_flag_has_help_and_shows_its_default(capsys):
    """`--help` of every command: each option explained, and each default that exists printed."""
    import argparse

    from ssvae.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(sub.choices) == {"demo", "train", "evaluate", "predict", "reproduce", "report", "sweep"}
    for name, p in sub.choices.items():
        text = " ".join(p.format_help().split())
        for action in p._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, (name, action.dest)
            shown = action.default is not None and action.default is not False
            if action.option_strings and shown:
                assert f"default: {action.default}" in text or "default" in action.help, (name, action.dest, text)


# --------------------------------------------------------------------------------------------------------
# issue 32: runs that go NaN, damaged saved models and stages, warm starts that change the network


def strict_json_everywhere(root: Path) -> None:
    """Every JSON file and line under root parses under a reader that refuses NaN and Infinity."""

    def refuse(token):
        raise AssertionError(f"non-standard JSON constant {token}")

    for p in root.rglob("*"):
        if p.suffix == ".json":
            json.loads(p.read_text(), parse_constant=refuse)
        elif p.suffix == ".jsonl":
            for line in p.read_text().splitlines():
                json.loads(line, parse_constant=refuse)


def test_a_run_that_goes_nan_stops_naming_the_step_and_keeps_its_last_good_checkpoint(tmp_path, monkeypatch):
    """Weights poisoned after epoch 1 make the first step of epoch 2 non-finite: the run stops there in one line,
    last.pt still holds epoch 1, the history has epoch 1 only, and nothing non-standard is written."""
    end_epoch = Run.end_epoch

    def poisoned(self, seconds):
        row = end_epoch(self, seconds)
        if self.epoch == 1:
            with torch.no_grad():
                next(self.model.parameters()).fill_(float("nan"))
        return row

    monkeypatch.setattr(Run, "end_epoch", poisoned)
    run = tmp_path / "run"
    with pytest.raises(SSVAEError) as e:
        train(TrainConfig(model="m2", epochs=3, **FAST), run, progress=False)
    msg = str(e.value)
    assert "\n" not in msg and "step 1 of epoch 2" in msg and "keeps epoch 1" in msg and "lr" in msg, msg
    assert ck.load_checkpoint(run / ck.LAST)["epoch"] == 1
    assert [r["epoch"] for r in ck.read_history(run / ck.HISTORY)] == [1]
    assert not (run / "model-best").exists()  # an unfinished run exports nothing
    strict_json_everywhere(run)


def test_a_diverging_learning_rate_is_stopped_on_the_command_line_and_in_the_estimator(tmp_path, capsys):
    from ssvae import SemiSupervisedClassifier

    out = tmp_path / "run"
    rc = main([*TRAIN, *DIGITS, "--lr", "1e6", "--epochs", "2", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "diverged" in err[0] and "epoch 1" in err[0], err
    assert not out.exists()  # nothing was kept: the corrected command starts afresh, not refused as "other settings"
    assert main([*TRAIN, *DIGITS, "--lr", "1e-3", "--epochs", "1", "--out", str(out)]) == 0
    strict_json_everywhere(out)
    capsys.readouterr()
    stage_args = ["--features", "m1", "--feature-epochs", "2", "--lr", "1e7", "--out", str(tmp_path / "stage")]
    rc = main([*TRAIN, *DIGITS, *stage_args])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "stage 1 (m1) diverged" in err[0], err
    x, y = semi_labeled()
    with pytest.raises(ValueError, match="diverged"):
        SemiSupervisedClassifier(lr=1e6, epochs=2, features=None, random_state=0, device="cpu").fit(x, y)


def test_a_step_that_cannot_fit_in_memory_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    """With 100 MiB free, a normal step fits and ten draws per example of it do not (one line naming both
    settings); the estimate grows with the draws and the classes as a step's rows do."""
    from ssvae.training import memory

    cfg = TrainConfig(model="m2", epochs=1, **FAST)
    one, rows = memory.step_bytes(cfg, 64, 10, 100, 1000)
    assert rows == 100 + 100 * 10
    ten, rows10 = memory.step_bytes(TrainConfig(**{**cfg.__dict__, "mc_samples": 10}), 64, 10, 100, 1000)
    assert rows10 == 10 * rows and ten == 10 * one
    plain = TrainConfig(model="classifier", epochs=1, **{**FAST, "model_options": {}})
    assert memory.step_bytes(plain, 64, 10, 100, 1000)[1] == 200  # no enumeration of the classes
    monkeypatch.setattr(memory, "available_bytes", lambda device: 12 * one)
    open_run(cfg, tmp_path / "fits").close()
    out = tmp_path / "does-not-fit"
    with pytest.raises(SSVAEError, match="lower mc_samples or batch_size") as e:
        open_run(TrainConfig(**{**cfg.__dict__, "mc_samples": 20}), out)
    assert "\n" not in str(e.value) and not out.exists()


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("saved")
    run = tmp / "run"
    assert main([*TRAIN, *DIGITS, *SMALL_CLI, "--out", str(run)]) == 0
    x = tmp / "x.npy"
    np.save(x, np.random.default_rng(0).random((4, 8, 8)))
    return run / "model-best", x


def _config_damage(c: dict) -> dict[str, tuple[object, str]]:
    pre = c["preprocessing"]
    return {
        "null": (None, "holds null"),
        "a list": ([1, 2], "not a table"),
        "no preprocessing": ({k: v for k, v in c.items() if k != "preprocessing"}, "preprocessing must be a table"),
        "negative input_dim": ({**c, "input_dim": -3}, "input_dim must be a whole number"),
        "input_dim a string": ({**c, "input_dim": "64"}, "input_dim must be a whole number"),
        "unknown preprocessing kind": ({**c, "preprocessing": {**pre, "kind": "zscore"}}, "preprocessing.kind"),
        "shape against input_dim": ({**c, "preprocessing": {**pre, "input_shape": [9, 9]}}, "preprocessing.input_"),
        "unknown stage code": (
            {**c, "features": {"name": "m1", "code": "median", "likelihood": "gaussian"}},
            "features must be",
        ),
        "unknown model": ({**c, "model": "m3"}, "model must be one of"),
        "classes against num_classes": ({**c, "classes": [0, 1]}, "classes must be a list of num_classes"),
        "option of the wrong type": ({**c, "model_config": {**c["model_config"], "hidden": "wide"}}, "hidden"),
        "unknown option": ({**c, "model_config": {**c["model_config"], "depth": 3}}, "no option depth"),
        "newer version": ({**c, "version": 99}, "version must be"),
    }


def test_damaged_saved_model_config_is_named_field_by_field(saved_model, tmp_path, capsys):
    import shutil

    from ssvae import SemiSupervisedClassifier

    good, x = saved_model
    base = json.loads((good / "config.json").read_text())
    for name, (config, words) in _config_damage(base).items():
        model = tmp_path / name.replace(" ", "-")
        shutil.copytree(good, model)
        (model / "config.json").write_text(json.dumps(config))
        before = snapshot(tmp_path)
        rc = main(["predict", str(model), str(x), "--out", str(tmp_path / "p.csv")])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and str(model / "config.json") in err[0] and words in err[0], (name, err)
        assert snapshot(tmp_path) == before, name
        with pytest.raises(SSVAEError, match="config.json"):
            SemiSupervisedClassifier.load(model)


def test_saved_weights_that_do_not_fit_or_are_not_finite_are_named_by_tensor(saved_model, tmp_path, capsys):
    import shutil

    from safetensors.torch import load_file, save_file

    good, x = saved_model
    state = load_file(good / "model.safetensors")
    first = next(iter(state))
    cases = {
        "nan": ({**state, first: torch.full_like(state[first], float("nan"))}, f"tensor {first} holds NaN"),
        "missing": ({k: v for k, v in state.items() if k != first}, f"it lacks tensor {first}"),
        "extra": ({**state, "extra.weight": torch.zeros(2)}, "it has tensor extra.weight"),
        "shape": ({**state, first: torch.zeros(3, 3)}, f"tensor {first} has shape [3, 3]"),
    }
    for name, (tensors, words) in cases.items():
        model = tmp_path / name
        shutil.copytree(good, model)
        save_file(tensors, model / "model.safetensors")
        rc = main(["predict", str(model), str(x), "--out", str(tmp_path / "p.csv")])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and words in err[0], (name, err)
        assert not (tmp_path / "p.csv").exists()


def test_a_damaged_shared_stage_is_named_where_it_lives_never_copied_and_deleting_it_works(tmp_path, capsys):
    shared = tmp_path / "stages"
    cmd = [*TRAIN, *DIGITS, *SMALL_CLI, "--features", "m1", "--feature-epochs", "1", "--features-dir", str(shared)]
    assert main([*cmd, "--out", str(tmp_path / "first")]) == 0
    (stage,) = shared.iterdir()
    for damage in (b"", b"not a checkpoint at all"):
        (stage / "stage.pt").write_bytes(damage)
        second = tmp_path / "second"
        assert main([*cmd, "--mier", "--out", str(second)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(stage / "stage.pt") in err[0] and f"delete {stage}" in err[0], err
        assert not (second / "features").exists()  # nothing copied from the damaged stage
    import shutil

    shutil.rmtree(stage)  # what the message says to do
    assert main([*cmd, "--mier", "--out", str(second)]) == 0


@pytest.mark.parametrize(
    "shape, words",
    [
        ("[1, 2]", "it holds a list where an object belongs"),
        ('{"features": "m1", "likelihood": "bernoulli"}', "it has no 'seed'"),
        ('{"features": 7, "likelihood": "bernoulli", "seed": 0}', "features must be a string, got a whole number"),
        ('{"features": "m1", "likelihood": "bernoulli", "seed": true}', "seed must be a whole number, got a bool"),
    ],
)
def test_a_stage_record_of_the_wrong_shape_is_named_in_one_line(tmp_path, capsys, shape, words):
    """Valid JSON of the wrong shape in a shared stage's config.json: one line naming the file and the field (it
    once ended in a traceback from deep inside the stage's code), and deleting the stage, as it says, works."""
    shared = tmp_path / "stages"
    cmd = [*TRAIN, *DIGITS, *SMALL_CLI, "--features", "m1", "--feature-epochs", "1", "--features-dir", str(shared)]
    assert main([*cmd, "--out", str(tmp_path / "first")]) == 0
    (stage,) = shared.iterdir()
    (stage / "config.json").write_text(shape)
    assert main([*cmd, "--mier", "--out", str(tmp_path / "second")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(stage / "config.json") in err[0] and words in err[0] and f"delete {stage}" in err[0]


@pytest.mark.parametrize(
    "name, text, words",
    [
        ("config.json", '{"config": [1]}', "config must be an object, got a list"),
        ("config.json", '"a run"', "it holds a string where an object belongs"),
        ("metrics.jsonl", '{"epoch": 1}\n[2]\n{"epoch": 3}\n', "metrics.jsonl line 2 is damaged"),
        ("metrics.jsonl", '{"epoch": "one"}\n{"epoch": 2}\n', "epoch must be a whole number, got a string"),
    ],
)
def test_a_run_record_of_the_wrong_shape_is_named_in_one_line(tmp_path, trained, capsys, name, text, words):
    run = _copy(trained, tmp_path / "run")
    (run / name).write_text(text)
    assert main(["train", "--model", "m2", "--epochs", "3", *CLI, "--out", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(run / name) in err[0] and words in err[0] and "--restart" in err[0], err


def test_the_json_reader_checks_each_field_of_a_declared_shape(tmp_path):
    from ssvae.files import read_json

    path = tmp_path / "x.json"
    for text, words in [
        ('{"a": 1, "b": 2.5}', None),
        ('{"a": 1, "b": 2}', None),  # a whole number is a number
        ('{"a": 1.5, "b": 2}', "a must be a whole number, got a number"),
        ('{"a": false, "b": 2}', "a must be a whole number, got a bool"),
        ('{"a": 1, "b": null}', "b must be a number, got null"),
        ('{"b": 1}', "it has no 'a'"),
        ("{", "is damaged (JSONDecodeError"),
    ]:
        path.write_text(text)
        if words is None:
            assert read_json(path, {"a": int, "b": float}) == json.loads(text)
            continue
        with pytest.raises(SSVAEError) as e:
            read_json(path, {"a": int, "b": float}, fix="mend it")
        assert str(path) in str(e.value) and words in str(e.value) and str(e.value).endswith("mend it")


def test_warm_start_refuses_a_change_that_reshapes_the_network():
    from ssvae import SemiSupervisedClassifier

    x, y = semi_labeled()
    small = {**SMALL_ESTIMATOR, "epochs": 1}
    clf = SemiSupervisedClassifier(features="m1", feature_epochs=1, warm_start=True, **small).fit(x, y)
    for change in ({"features": None}, {"hidden": 32}, {"feature_epochs": 2}, {"model": "lvae"}):
        before = {k: getattr(clf, k) for k in change}
        clf.set_params(**change)
        with pytest.raises(ValueError, match=f"{next(iter(change))} changed from"):
            clf.fit(x, y)
        clf.set_params(**before)
    assert clf.fit(x, y).n_iter_ == 2  # unchanged settings: it continues


@pytest.mark.parametrize(
    "params, words",
    [
        ({"feature_epochs": 1.5}, "feature_epochs must be a whole number"),
        ({"feature_epochs": "3"}, "feature_epochs must be a whole number"),
        ({"lr": "fast"}, "lr must be a number"),
        ({"batch_size": 10.0}, "batch_size must be a whole number"),
        ({"hidden": 2.5}, "hidden must be a whole number"),
        ({"tensorboard_dir": "/proc/ssvae/tb"}, "cannot write into tensorboard_dir"),
        ({"beta": float("inf"), "mier": True}, "beta must be a finite number"),
    ],
)
def test_estimator_parameters_are_named_when_wrong(params, words, tmp_path):
    from ssvae import SemiSupervisedClassifier

    x, y = semi_labeled()
    with pytest.raises(ValueError, match=words):
        SemiSupervisedClassifier(epochs=1, device="cpu", **params).fit(x, y)
