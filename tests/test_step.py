"""The training step as a function of device tensors (issue 22, item 1): the same numbers as the float-valued
step it replaced, no host synchronisation inside it, and a learning rate the schedule changes in place."""

import pytest
import torch

from ssvae.training import rundir as rd
from ssvae.training.config import TrainConfig
from ssvae.training.loop import run_epochs
from ssvae.training.run import Run
from ssvae.training.step import DeviceStep

# 3 epochs of 12 steps: the KL warm-up ends after epoch 1, the learning rate halves after epochs 1 and 2
CFG = dict(dataset="digits", labels_per_class=5, batch_size=100, labeled_batch_size=100, warmup_epochs=1)
CFG.update(epochs=3, lr_decay_every=1, device="cpu", precision="fp32", mier=True)


def float_valued_epochs(run: Run) -> None:
    """The step before issue 22: the warm-up weight a Python float, the lr a float, indices read on the host."""
    for group in run.opt.param_groups:
        group["lr"] = float(group["lr"])
    for _ in range(run.cfg.epochs):
        run.model.train()
        u_idx, l_idx = run.epoch_indices()
        for i in range(run.sched.steps_per_epoch):
            loss, stats = run.step_loss(run.model, *run.batch(u_idx, l_idx, i), run.gen, run.obj_cfg, run.kl_weight())
            run.opt.zero_grad(set_to_none=True)
            loss.backward()
            run.opt.step()
            run.record(stats)
        run.end_epoch(0.0)


@pytest.mark.parametrize(
    "model", ["m2", pytest.param("adgm", marks=pytest.mark.slow), pytest.param("lvae", marks=pytest.mark.slow)]
)
def test_device_step_equals_the_float_valued_step_across_warmup_and_lr_decay(model):
    a, b = Run(TrainConfig(model=model, **CFG), None), Run(TrainConfig(model=model, **CFG), None)
    float_valued_epochs(a)
    run_epochs(b, progress=False)
    assert [r["kl_weight"] for r in b.history] == [1.0, 1.0, 1.0] and a.warmup_steps == a.sched.steps_per_epoch
    assert [r["lr"] for r in b.history] == [1.5e-4, 7.5e-5, 3.75e-5] == [r["lr"] for r in a.history]
    for (name, p), q in zip(a.model.named_parameters(), b.model.parameters()):
        assert torch.equal(p, q), name
    assert [r["train"] for r in a.history] == [r["train"] for r in b.history]
    assert torch.equal(a.gen.get_state(), b.gen.get_state())


def test_the_kl_weight_is_computed_on_the_device_as_on_the_host():
    run = Run(TrainConfig(model="m2", **{**CFG, "warmup_epochs": 2}), None)
    step = DeviceStep(run)
    for n in (0, 1, 7, run.warmup_steps - 1, run.warmup_steps, 5 * run.warmup_steps):
        step.count.fill_(n)
        run.step = n
        assert step.kl_weight().dtype == torch.float64 and float(step.kl_weight()) == run.kl_weight()


def host_reads_forbidden(monkeypatch, steps) -> list[str]:
    """Run `steps()` with every way a tensor reads a value back to the host patched to raise; what was tried."""
    reads = []

    def forbidden(name):
        def read(self, *a, **k):
            reads.append(name)
            raise AssertionError(f"Tensor.{name} read a value back to the host inside a step")

        return read

    with monkeypatch.context() as m:
        for name in ("item", "__bool__", "__float__", "__int__", "__index__", "tolist", "numpy"):
            m.setattr(torch.Tensor, name, forbidden(name))
        steps()
    return reads


def test_no_host_synchronisation_inside_a_step(monkeypatch):
    run = Run(TrainConfig(model="adgm", **CFG), None)
    step = DeviceStep(run)
    step.begin_epoch(*run.epoch_indices())
    step()  # the first step creates Adam's state and the sums: outside the check, as a warm-up
    assert host_reads_forbidden(monkeypatch, lambda: [step() for _ in range(3)]) == []
    assert int(step.count) == run.step == 4 and int(step.index[0]) == 4


def test_the_schedule_changes_the_learning_rate_tensor_in_place(tmp_path):
    run = Run(TrainConfig(model="m2", **CFG), tmp_path / "r")
    try:
        lr = run.opt.param_groups[0]["lr"]
        assert isinstance(lr, torch.Tensor) and lr.dtype == torch.float64 and float(lr) == 3e-4
        run_epochs(run, progress=False)
        assert run.opt.param_groups[0]["lr"] is lr and float(lr) == 3e-4 / 8  # the very tensor a step reads
    finally:
        run.close()
    state = rd.load_checkpoint(tmp_path / "r" / rd.LAST)
    state["optimizer"]["param_groups"][0]["lr"] = float(state["optimizer"]["param_groups"][0]["lr"])  # as before
    resumed = Run(TrainConfig(model="m2", **CFG), None)
    resumed.load_state_dict(state)
    lr = resumed.opt.param_groups[0]["lr"]
    assert isinstance(lr, torch.Tensor) and float(lr) == 3e-4 / 8


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--precision", "tf32", "--precision tf32 is a CUDA GPU's matrix-product mode; on a CPU use fp32 or auto"),
        ("--cuda-graphs", "on", "--cuda-graphs on needs a CUDA GPU; on a CPU use auto or off"),
    ],
)
def test_cuda_only_settings_are_refused_elsewhere_in_one_line(tmp_path, capsys, flag, value, message):
    from ssvae.cli import main

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU takes them")
    args = ["train", "--dataset", "digits", "--labels-per-class", "5", "--epochs", "1", "--device", "cpu"]
    assert main([*args, flag, value, "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"ssvae: error: {message}"]
    assert not (tmp_path / "r").exists()
