"""One training step of one run as a function of device tensors only (issue 22, item 1).

Everything that changes between steps lives on the device: the step counter from which the KL warm-up weight is
computed, the position within the epoch, the epoch's batch indices (in buffers filled once per epoch), the
learning rate (a tensor the schedule changes in place, `hardware.tensor_lr`) and the summed statistics (added to in
place). The host only launches the same work every step, never reads a value back, so that the step can run
ahead of the host on a GPU and, later, be captured and replayed; on the CPU the same function runs eagerly and
gives bit for bit what the float-valued step gave (tested).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .contracts import StepParts


def device_kl_weight(count: Tensor, warmup_steps: int, one: Tensor) -> Tensor:
    """The warm-up weight min(1, step / warm-up steps) (`schedule.kl_warmup`), computed on the device from the
    device's step counter `count` (`one`: the float64 1 on that device)."""
    return one if warmup_steps == 0 else torch.clamp(count.double() / warmup_steps, max=1.0)


def clip_gradients(params, max_norm: float, stacked: bool = False) -> None:
    """--grad-clip: each run's gradient scaled by min(1, max_norm / (||g|| + 1e-6)), ||g|| the L2 norm over all
    of that run's parameters, as `torch.nn.utils.clip_grad_norm_` does for one model (tested against it). Computed on
    the device (no host sync, so a captured step holds it); `stacked`: parameters [runs, ...], one norm per run,
    so that stacked runs clip as they would alone."""
    if max_norm <= 0:
        return
    grads = [p.grad if stacked else p.grad.unsqueeze(0) for p in params if p.grad is not None]
    if not grads:
        return
    norm = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads]).square().sum(0).sqrt()
    scale = torch.clamp(max_norm / (norm + 1e-6), max=1.0)  # [runs]
    for g in grads:
        g.mul_(scale.view(-1, *(1,) * (g.dim() - 1)).to(g.dtype))


class StepCounters:
    """What every device-side step keeps on the device: the steps taken (the warm-up weight), the position within
    the epoch, and the epoch's batch orders in buffers ([steps, batch], or [runs, steps, batch] for a stacked
    step). A subclass says what one step does (`device_part`, `host_part`) and what else it holds (`trained`)."""

    def __init__(self, sched: Any, start_step: int, warmup_steps: int, device: torch.device, runs: int = 0):
        lead = (runs,) if runs else ()
        self.warmup_steps = warmup_steps
        self.count = torch.tensor(start_step, dtype=torch.long, device=device)  # steps taken so far
        self.index = torch.zeros(1, dtype=torch.long, device=device)  # the step within this epoch
        self.u_idx = torch.zeros((*lead, sched.steps_per_epoch, sched.unlabeled_batch), dtype=torch.long, device=device)
        self.l_idx = torch.zeros((*lead, sched.steps_per_epoch, sched.labeled_batch), dtype=torch.long, device=device)
        self.one = torch.ones((), dtype=torch.float64, device=device)

    def begin_epoch(self, u_idx: Tensor, l_idx: Tensor) -> None:
        self.u_idx.copy_(u_idx)
        self.l_idx.copy_(l_idx)
        self.index.zero_()

    def kl_weight(self) -> Tensor:
        return device_kl_weight(self.count, self.warmup_steps, self.one)

    def advance(self) -> None:
        self.count.add_(1)
        self.index.add_(1)

    def __call__(self) -> None:
        self.zero_grad()
        self.device_part()
        self.host_part()

    def state_tensors(self) -> list[Tensor]:
        """Every tensor a step reads or changes in place: what a captured step holds on to (`cuda_graphs`)."""
        return [*self.trained(), self.count, self.index, self.u_idx, self.l_idx]

    def trained(self) -> list[Tensor]:
        """The parameters, gradients, buffers, optimizer state and statistics' sums the step changes."""
        raise NotImplementedError

    def zero_grad(self, set_to_none: bool = True) -> None:
        raise NotImplementedError

    def device_part(self) -> None:
        """Everything a step does on the device, and only that: what a CUDA graph captures (`GraphedStep`)."""
        raise NotImplementedError

    def host_part(self) -> None:
        raise NotImplementedError


class DeviceStep(StepCounters):
    """The step of one Run; `begin_epoch` hands it the epoch's batch order, each call takes the next step."""

    def __init__(self, run: StepParts):
        super().__init__(run.sched, run.step, run.warmup_steps, run.device)
        self.run = run

    def batch(self) -> tuple[Tensor, Tensor, Tensor]:
        """This step's rows, picked by the device-side index (an integer index would be read on the host)."""
        return self.run.gather(self.u_idx.index_select(0, self.index)[0], self.l_idx.index_select(0, self.index)[0])

    def targets(self) -> tuple[Tensor, Tensor] | None:
        """The graph teacher's class and confidence for this step's unlabeled rows (None without a teacher)."""
        return self.run.targets(self.u_idx.index_select(0, self.index)[0])

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.run.opt.zero_grad(set_to_none=set_to_none)

    def device_part(self) -> None:
        run = self.run
        with run.autocast():
            kl, targets = self.kl_weight(), self.targets()
            loss, stats = run.step_loss(run.model, *self.batch(), run.gen, run.obj_cfg, kl, targets)
        loss.backward()
        clip_gradients(run.model.parameters(), run.cfg.grad_clip)
        run.opt.step()
        if run.average is not None:
            run.average.update()  # in place on the device (`--ema`)
        run.add_stats(stats)  # in place on the device
        self.advance()

    def host_part(self) -> None:
        self.run.count_step()  # the host's own step counter moves with the device's

    def generators(self) -> list[torch.Generator]:
        return [self.run.gen]

    def trained(self) -> list[Tensor]:
        run = self.run
        params = list(run.model.parameters())
        average = run.average.tensors if run.average is not None else []
        opt = optimizer_tensors(run.opt)
        return [*params, *grads(params), *run.model.buffers(), *opt, *average, *run.sums.values()]


def grads(params) -> list[Tensor]:
    """The gradients the parameters have."""
    return [p.grad for p in params if p.grad is not None]


def optimizer_tensors(opt: torch.optim.Optimizer) -> list[Tensor]:
    """An optimizer's moments, step counts and tensor learning rates."""
    state = [t for st in opt.state.values() for t in st.values() if isinstance(t, Tensor)]
    return state + [g["lr"] for g in opt.param_groups if isinstance(g["lr"], Tensor)]
