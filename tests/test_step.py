"""The training step as a function of device tensors (issue 22, item 1): the same numbers as the float-valued
step it replaced, no host synchronisation inside it, and a learning rate the schedule changes in place."""

import pytest
import torch

from ssvae.records import rundir as rd
from ssvae.training.config import TrainConfig
from ssvae.training.loop import open_run, run_epochs
from ssvae.training.run import Run
from ssvae.training.step import DeviceStep, clip_gradients

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
    a, b = open_run(TrainConfig(model=model, **CFG), None), open_run(TrainConfig(model=model, **CFG), None)
    float_valued_epochs(a)
    run_epochs(b, progress=False)
    assert [r["kl_weight"] for r in b.history] == [1.0, 1.0, 1.0] and a.warmup_steps == a.sched.steps_per_epoch
    assert [r["lr"] for r in b.history] == [1.5e-4, 7.5e-5, 3.75e-5] == [r["lr"] for r in a.history]
    for (name, p), q in zip(a.model.named_parameters(), b.model.parameters()):
        assert torch.equal(p, q), name
    assert [r["train"] for r in a.history] == [r["train"] for r in b.history]
    assert torch.equal(a.gen.get_state(), b.gen.get_state())


def test_the_kl_weight_is_computed_on_the_device_as_on_the_host():
    run = open_run(TrainConfig(model="m2", **{**CFG, "warmup_epochs": 2}), None)
    step = DeviceStep(run)
    for n in (0, 1, 7, run.warmup_steps - 1, run.warmup_steps, 5 * run.warmup_steps):
        step.count.fill_(n)
        run.step = n
        assert step.kl_weight().dtype == torch.float64 and float(step.kl_weight()) == run.kl_weight()


def host_reads(monkeypatch, steps, forbid: bool = True) -> list[str]:
    """Run `steps()` with every way a tensor reads a value back to the host patched to record the read, and with
    `forbid` to raise; what was read (or tried)."""
    reads = []

    def watched(name):
        original = getattr(torch.Tensor, name)

        def read(self, *a, **k):
            reads.append(name)
            if forbid:
                raise AssertionError(f"Tensor.{name} read a value back to the host inside a step")
            return original(self, *a, **k)

        return read

    with monkeypatch.context() as m:
        for name in ("item", "__bool__", "__float__", "__int__", "__index__", "tolist", "numpy"):
            m.setattr(torch.Tensor, name, watched(name))
        steps()
    return reads


@pytest.mark.parametrize("grad_clip", [0.0, 1.0])
def test_no_host_synchronisation_inside_a_step(monkeypatch, grad_clip):
    run = open_run(TrainConfig(model="adgm", grad_clip=grad_clip, **CFG), None)
    step = DeviceStep(run)
    step.begin_epoch(*run.epoch_indices())
    step()  # the first step creates Adam's state and the sums: outside the check, as a warm-up
    assert host_reads(monkeypatch, lambda: [step() for _ in range(3)]) == []
    assert int(step.count) == run.step == 4 and int(step.index[0]) == 4


def test_the_schedule_changes_the_learning_rate_tensor_in_place(tmp_path):
    run = open_run(TrainConfig(model="m2", **CFG), tmp_path / "r")
    try:
        lr = run.opt.param_groups[0]["lr"]
        assert isinstance(lr, torch.Tensor) and lr.dtype == torch.float64 and float(lr) == 3e-4
        run_epochs(run, progress=False)
        assert run.opt.param_groups[0]["lr"] is lr and float(lr) == 3e-4 / 8  # the very tensor a step reads
    finally:
        run.close()
    state = rd.load_checkpoint(tmp_path / "r" / rd.LAST)
    state["optimizer"]["param_groups"][0]["lr"] = float(state["optimizer"]["param_groups"][0]["lr"])  # as before
    resumed = open_run(TrainConfig(model="m2", **CFG), None)
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


def _with_grads(shapes, seed, scale):
    g = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.zeros(s)) for s in shapes]
    for p in params:
        p.grad = scale * torch.randn(p.shape, generator=g)
    return params


@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_gradients_is_torchs_clip_grad_norm(max_norm):
    """One run: what torch.nn.utils.clip_grad_norm_ gives (the norm over all parameters, not one per tensor);
    below the limit nothing changes."""
    shapes = [(7, 5), (5,), (3, 2, 4)]
    ours, theirs = _with_grads(shapes, 0, 1.0), _with_grads(shapes, 0, 1.0)
    before = float(torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in ours])))
    clip_gradients(ours, max_norm)
    torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-6, atol=1e-7)
    total = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in ours]))
    assert float(total) == pytest.approx(min(max_norm, before), rel=1e-5)  # the small limit clipped, not the large


def test_clip_gradients_of_stacked_runs_clips_each_run_as_alone():
    """Parameters [runs, ...]: each run's slice is scaled by its own norm (runs of different gradient sizes, so one
    norm over all runs would clip them differently)."""
    shapes, scales = [(6, 4), (4,)], (0.01, 1.0, 30.0)
    alone = [_with_grads(shapes, j, s) for j, s in enumerate(scales)]
    stacked = [torch.nn.Parameter(torch.zeros(len(scales), *s)) for s in shapes]
    for i, p in enumerate(stacked):
        p.grad = torch.stack([run[i].grad for run in alone])
    clip_gradients(stacked, 2.0, stacked=True)
    for j, run in enumerate(alone):
        torch.nn.utils.clip_grad_norm_(run, 2.0)
        for i, p in enumerate(run):
            torch.testing.assert_close(stacked[i].grad[j], p.grad, rtol=1e-6, atol=1e-8)
    assert torch.equal(stacked[0].grad[0], alone[0][0].grad)  # the small run untouched


def test_grad_clip_trains_stacked_runs_as_one_by_one_and_changes_the_trajectory(tmp_path):
    from ssvae.training.loop import train_many

    small = dict(CFG, epochs=1, model_options=dict(hidden=32, classifier_hidden=32, z_dim=8))
    cfgs = [TrainConfig(seed=s, grad_clip=1.0, **small) for s in (0, 1)]  # the norm is about 4 here
    train_many(cfgs, [tmp_path / f"stacked{s}" for s in range(2)], stack=True, progress=False)
    train_many(cfgs, [tmp_path / f"single{s}" for s in range(2)], stack=False, progress=False)
    train_many([TrainConfig(seed=0, **small)], [tmp_path / "unclipped"], stack=False, progress=False)
    state = {
        d: rd.load_checkpoint(tmp_path / d / "last.pt")["model"]
        for d in ("stacked0", "stacked1", "single0", "single1", "unclipped")
    }
    for s in range(2):
        for k, v in state[f"single{s}"].items():
            torch.testing.assert_close(state[f"stacked{s}"][k], v, rtol=0, atol=1e-4)
    # Adam is nearly blind to a constant scale of the gradient, so clipping moves the weights only a little, but
    # beyond the tolerance that stacked and single runs are held to
    assert max(float((state["single0"][k] - v).abs().max()) for k, v in state["unclipped"].items()) > 2e-4


def test_adam_steps_on_the_clipped_gradient():
    run = open_run(TrainConfig(model="m2", grad_clip=1.0, **CFG), None)
    seen, adam_step = [], run.opt.step

    def step(*a, **k):
        seen.append(float(torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in run.model.parameters()]))))
        return adam_step(*a, **k)

    run.opt.step = step
    device_step = DeviceStep(run)
    device_step.begin_epoch(*run.epoch_indices())
    for _ in range(3):
        device_step()
    assert seen == pytest.approx([1.0] * 3, rel=1e-4)  # this model's gradient norm is far above 1 here
