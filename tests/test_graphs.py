"""The captured step (issue 22, item 2) on the CPU: everything but the CUDA capture itself.

A "capture" here hands back the recorded function as its replay, which re-runs the same device work on the same
tensors, as a graph replays its kernels; so these tests check what a graph relies on: that a step reads nothing
but tensors that stay the same objects (the sums, the lr, the batch buffers), that the host's bookkeeping after a
replay is what an eager step does, that a capture or self-check failure loses nothing, and that a replaced state
tensor (a loaded checkpoint) makes the step capture anew. The GPU check (`benchmarks/gpu_check.sh`) runs the
same on a GPU with `torch.cuda.CUDAGraph`.
"""

import dataclasses
import json

import pytest
import torch
from test_step import CFG, host_reads  # CFG: 3 epochs of 12 steps across a warm-up end and two lr decays

from ssvae.machine import cuda_graphs as graphs
from ssvae.machine.cuda_graphs import EAGER_STEPS, GraphedStep, Snapshot
from ssvae.records import rundir as rd
from ssvae.records.rundir import load_checkpoint
from ssvae.training.config import TrainConfig
from ssvae.training.loop import open_run, run_epochs, train_stacked
from ssvae.training.run import Run
from ssvae.training.stacked import StackedStep, _stacked_parts
from ssvae.training.step import DeviceStep


def replaying(fn, generators):
    return fn


class Captures:
    """A capture that counts how often it was asked, optionally broken one way or another."""

    def __init__(self, broken: str | None = None):
        self.broken, self.calls = broken, 0

    def __call__(self, fn, generators):
        self.calls += 1
        if self.broken == "raises":
            raise RuntimeError("operation not permitted when stream is capturing")
        if self.broken == "twice":  # a replay that does not do what one eager step does
            return lambda: (fn(), fn())
        return fn


@pytest.fixture
def graphed_everywhere(monkeypatch):
    """--cuda-graphs auto graphs the CPU here, with `capture` instead of a CUDA graph."""
    capture = Captures()
    made = []

    def graphed(step, mode, device):
        g = GraphedStep(step, capture, device) if mode != "off" else step
        made.append(g)
        return g

    for module in ("ssvae.training.run", "ssvae.training.stacked"):
        monkeypatch.setattr(f"{module}.graphed_if_asked", graphed)
    return capture, made


def same_runs(a: Run, b: Run) -> None:
    for (name, p), q in zip(a.model.named_parameters(), b.model.parameters()):
        assert torch.equal(p, q), name
    assert [r["train"] for r in a.history] == [r["train"] for r in b.history]
    assert [r["val_accuracy"] for r in a.history] == [r["val_accuracy"] for r in b.history]
    assert torch.equal(a.gen.get_state(), b.gen.get_state()) and a.step == b.step


@pytest.mark.parametrize("model", ["m2", pytest.param("lvae", marks=pytest.mark.slow)])
def test_a_replayed_step_equals_eager_steps_across_warmup_and_lr_decay(model, graphed_everywhere):
    capture, made = graphed_everywhere
    eager = open_run(TrainConfig(model=model, cuda_graphs="off", **CFG), None)
    graphed = open_run(TrainConfig(model=model, cuda_graphs="auto", **CFG), None)
    run_epochs(eager, progress=False)
    run_epochs(graphed, progress=False)
    same_runs(eager, graphed)
    steps = 3 * graphed.sched.steps_per_epoch
    g = made[-1]
    assert capture.calls == g.captures == 1 and not g.failed
    assert g.replays == steps - EAGER_STEPS - 1  # the captured step itself is checked and taken once
    assert [r["lr"] for r in graphed.history] == [1.5e-4, 7.5e-5, 3.75e-5]


@pytest.mark.parametrize("broken", ["raises", "twice"])
def test_a_failed_capture_or_self_check_warns_once_and_trains_on_eagerly(broken, capsys):
    eager = open_run(TrainConfig(model="m2", cuda_graphs="off", **CFG), None)
    run_epochs(eager, progress=False)
    run = open_run(TrainConfig(model="m2", cuda_graphs="off", **CFG), None)
    g = GraphedStep(DeviceStep(run), Captures(broken))
    for _ in range(run.cfg.epochs):
        run.model.train()
        g.begin_epoch(*run.epoch_indices())
        for _ in range(run.sched.steps_per_epoch):
            g()
        run.end_epoch(0.0)
    same_runs(eager, run)
    assert g.failed and g.captures == g.replays == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "CUDA graph capture failed" in line]
    assert len(err) == 1, err
    if broken == "twice":
        assert "a replay differs from an eager step" in err[0]


def test_a_replaced_state_tensor_makes_the_step_capture_anew(tmp_path):
    """As after a checkpoint is loaded: the optimizer's moments are new tensors, the old graph would update the
    old ones; the next epoch notices and captures again after its eager steps."""
    run = open_run(TrainConfig(model="m2", cuda_graphs="off", **{**CFG, "epochs": 2}), None)
    capture = Captures()
    g = GraphedStep(DeviceStep(run), capture)
    run.model.train()
    g.begin_epoch(*run.epoch_indices())
    for _ in range(run.sched.steps_per_epoch):
        g()
    run.end_epoch(0.0)
    assert capture.calls == 1 and g.replay is not None
    run.load_state_dict(run.state_dict())  # the same values, in new optimizer tensors
    g.begin_epoch(*run.epoch_indices())
    assert g.replay is None  # dropped before it could replay onto tensors nobody reads
    for _ in range(run.sched.steps_per_epoch):
        g()
    assert capture.calls == g.captures == 2


def test_the_self_check_snapshot_sees_one_flipped_bit():
    run = open_run(TrainConfig(model="m2", cuda_graphs="off", **CFG), None)
    step = DeviceStep(run)
    step.begin_epoch(*run.epoch_indices())
    step()
    a = Snapshot(step)
    p = next(run.model.parameters())
    with torch.no_grad():
        p.view(-1)[5] = torch.nextafter(p.view(-1)[5], torch.tensor(float("inf")))
    b = Snapshot(step)
    assert a.differs(a) is None and "state tensor 0 of" in b.differs(a)
    a.restore(step)
    assert Snapshot(step).differs(a) is None
    run.gen.manual_seed(123)
    assert Snapshot(step).differs(a) == "generator 0"


def test_stacked_runs_replayed_equal_stacked_runs_eager(tmp_path, graphed_everywhere):
    capture, made = graphed_everywhere
    cfgs = [TrainConfig(model="m2", seed=s, **{**CFG, "epochs": 2, "mier": bool(s)}) for s in (0, 1)]
    off = [dataclasses.replace(c, cuda_graphs="off") for c in cfgs]
    eager = train_stacked(off, [tmp_path / "e0", tmp_path / "e1"], False)
    graphed = train_stacked(cfgs, [tmp_path / "g0", tmp_path / "g1"], False)
    g = made[-1]
    assert isinstance(g, GraphedStep) and isinstance(g.step, StackedStep)
    assert capture.calls == g.captures == 1 and g.replays > 0
    for e, r in zip(eager, graphed):
        assert len(_rows(e)) == 2 and _rows(e) == _rows(r)
        a, b = load_checkpoint(e / rd.LAST)["model"], load_checkpoint(r / rd.LAST)["model"]
        assert all(torch.equal(a[k], b[k]) for k in a)


def _rows(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "train_seconds"} for r in rows]


def test_no_host_synchronisation_inside_a_stacked_step(monkeypatch):
    runs = [open_run(TrainConfig(model="m2", seed=s, **CFG), None) for s in (0, 1)]
    step = StackedStep(runs, _stacked_parts(runs))
    step.begin_epoch([r.epoch_indices() for r in runs])
    step()  # creates Adam's state and the sums
    assert host_reads(monkeypatch, lambda: [(step.zero_grad(), step.device_part()) for _ in range(3)]) == []
    assert int(step.count) == 4 and int(step.index[0]) == 4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the real capture needs a CUDA GPU (benchmarks/gpu_check.sh)")
def test_a_cuda_graph_replays_what_eager_steps_compute(monkeypatch):
    made = []

    def graphed_step(step, mode, device):
        made.append(graphs.graphed_if_asked(step, mode, device))
        return made[-1]

    monkeypatch.setattr("ssvae.training.loop.graphed_if_asked", graphed_step)
    cfg = {**CFG, "device": "cuda"}
    eager = open_run(TrainConfig(model="m2", cuda_graphs="off", **cfg), None)
    graphed = open_run(TrainConfig(model="m2", cuda_graphs="on", **cfg), None)
    run_epochs(eager, progress=False)
    run_epochs(graphed, progress=False)
    same_runs(eager, graphed)
    assert made[-1].captures == 1 and not made[-1].failed
