"""Several runs through one training step: the parameters of R models stacked, the step vmapped over them.

One run at batch 200 cannot fill a GPU (it is launch- and shape-bound); R runs stacked turn each matrix product
into one batched product R times larger. On a CPU stacking buys nothing, so `loop.train_many` loops there. The
group is one stage to the loop (`StackedRuns`, `contracts.Stage`): `loop.run_epochs` drives it as it drives one
run.

Runs may differ in seed and in the objective's per-run settings (`ssvae.core.objectives`: MIER on/off and its
weights; a baseline is MIER with zero weights). Each run keeps its own data
split, batch order and noise, drawn from its own generator in exactly the order the one-run path draws them
(the noise is pre-drawn per step, in the shapes the model asks for, and handed to the vmapped step on a
`NoiseTape`), and one Adam over the stacked parameters is elementwise, so stacked runs equal the same runs
trained one by one up to float rounding of the batched products. Every run still writes its own ordinary run
directory (metrics.jsonl, checkpoints), resumable either way.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from ..core import distributions
from ..core.distributions import NoiseRecorder, NoiseTape
from ..core.objectives import ObjectiveConfig, run_weights
from ..machine.cuda_graphs import graphed_if_asked
from ..machine.hardware import adam, compiled_if_asked, follow_lr
from .config import PER_RUN, TrainConfig
from .run import Run
from .stacked_validation import StackedValidation
from .step import StepCounters, clip_gradients, grads, optimizer_tensors


class NotStackable(ValueError):
    """The runs cannot share one stacked step (checked before any training); train them one by one."""


class _Step(nn.Module):
    """forward = the loss, so that torch.func.functional_call can swap in one run's parameters; the objective's
    per-run weights come in as tensors (`ObjectiveConfig.with_run_weights`)."""

    def __init__(self, model: nn.Module, loss_fn, obj_cfg: ObjectiveConfig):
        super().__init__()
        self.model, self.loss_fn, self.obj_cfg = model, loss_fn, obj_cfg

    def forward(self, x_lab, y_lab, x_unl, noise: list[Tensor], kl_weight: float, per_run: dict[str, Tensor]):
        cfg = self.obj_cfg.with_run_weights(per_run)
        return self.loss_fn(self.model, x_lab, y_lab, x_unl, NoiseTape(noise), cfg, kl_weight)


class StackedLoss:
    """The loss of R models of one architecture, vmapped over their stacked parameters.

    `params` are leaf tensors [R, ...] to hand to one optimizer; calling returns per-run losses [R] and
    per-run statistics, from batches `[R, B, ...]` and noise `[R, *shape]` for each of `noise_shapes`.
    """

    def __init__(self, models: list[nn.Module], loss_fn, obj_cfgs: list[ObjectiveConfig]):
        if len({c.weights for c in obj_cfgs}) > 1:
            raise ValueError("stacked runs must share the objective's term weights")
        self.names = [n for n, _ in models[0].named_parameters()]
        params, self.buffers = stack_module_state(models)
        self.params = {n: p.detach().requires_grad_() for n, p in params.items()}
        device = next(iter(params.values())).device
        per_run = [run_weights(c) for c in obj_cfgs]
        self.per_run = {k: torch.tensor([w[k] for w in per_run], device=device) for k in per_run[0]}
        step = copy.deepcopy(_Step(models[0], loss_fn, obj_cfgs[0])).to("meta")

        def one(p, b, xl, yl, xu, noise, w, per_run):
            weights = {f"model.{k}": v for k, v in {**p, **b}.items()}
            return functional_call(step, weights, (xl, yl, xu, noise, w, per_run))

        self._batched = vmap(one, in_dims=(0, 0, 0, 0, 0, 0, None, 0), randomness="error")

    def __call__(self, xl: Tensor, yl: Tensor, xu: Tensor, noise: list[Tensor], kl_weight: float):
        return self._batched(self.params, self.buffers, xl, yl, xu, noise, kl_weight, self.per_run)


def noise_shapes(model: nn.Module, loss_fn, obj_cfg, xl: Tensor, yl: Tensor, xu: Tensor) -> list[tuple[int, ...]]:
    """The shapes, in order, of the noise one training step draws (recorded once with a dry step)."""
    recorder = NoiseRecorder(xu)
    with torch.no_grad():
        loss_fn(model, xl, yl, xu, recorder, obj_cfg, 1.0)
    return recorder.shapes


def stackable(cfgs: list[TrainConfig]) -> bool:
    """Runs stack when they differ only in seed and the objective's per-run settings (same model, data, labels,
    schedule), and keep no moving average of their weights (`--ema`) and no graph teacher (`--teacher`): those
    runs train one by one."""
    strip = [{k: v for k, v in dataclasses.asdict(c).items() if k not in PER_RUN and k != "seed"} for c in cfgs]
    return all(s == strip[0] for s in strip[1:]) and not any(c.ema or c.teacher for c in cfgs)


class StackedRuns:
    """R runs through one vmapped step, as the loop sees a stage (`contracts.Stage`): `loop.run_epochs` drives it
    as it drives one run. Each epoch's end copies every run's slice back into its own model and optimizer, closes
    its epoch and validates the group in one pass (`StackedValidation`); each run logs and checkpoints its own."""

    def __init__(self, runs: list[Run]):
        r0, cfgs = runs[0], [r.cfg for r in runs]
        if not stackable(cfgs) or len({r.epoch for r in runs}) > 1 or len({r.sched.steps_per_epoch for r in runs}) > 1:
            raise NotStackable("stacked runs must differ only in seed or MIER and stand at the same epoch")
        self.runs, self.parts = runs, _stacked_parts(runs)
        self.validation = StackedValidation(runs, self.parts[0].params, self.parts[0].buffers)
        self.label = f"{r0.cfg.model} x{len(runs)}"

    @property
    def epoch(self) -> int:
        return self.runs[0].epoch

    @property
    def epochs(self) -> int:
        return self.runs[0].cfg.epochs

    @property
    def steps_per_epoch(self) -> int:
        return self.runs[0].sched.steps_per_epoch

    @property
    def members(self) -> list[Run]:
        return self.runs

    def train_mode(self) -> None:
        """Nothing to set: the stacked step calls the runs' weights functionally, on a copy made at the start."""

    def make_step(self):
        return graphed_if_asked(StackedStep(self.runs, self.parts), self.runs[0].cfg.cuda_graphs, self.runs[0].device)

    def epoch_indices(self) -> tuple[list[tuple[Tensor, Tensor]]]:
        return ([r.epoch_indices() for r in self.runs],)

    def end_epoch(self, seconds: float) -> list[dict[str, Any]] | None:
        stacked, _, opt, _ = self.parts
        _unstack_into(stacked.params, opt, self.runs, stacked.names)
        with warnings.catch_warnings():  # each run's own optimizer never steps here; its schedule still must
            warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")
            evaluated = [r.close_epoch(seconds) for r in self.runs]
        rows = self.validation.rows() if evaluated[0] else None
        follow_lr(opt, self.runs[0].opt)
        return rows

    def postfix(self, rows: list[dict[str, Any]]) -> dict[str, str]:
        accs = [row["val_accuracy"] for row in rows]
        return {"val_acc": f"{min(accs):.1f}-{max(accs):.1f}"}


def _stacked_parts(runs: list[Run]):
    """The stacked loss (maybe compiled), one Adam over the stacked parameters (holding the runs' moments when
    they resume), and the shapes of the noise one step draws."""
    r0 = runs[0]
    stacked = StackedLoss([r.model for r in runs], r0.loss_fn, [r.obj_cfg for r in runs])
    step_loss = compiled_if_asked(stacked, r0.cfg.compile, r0.device)
    opt = adam(stacked.params.values(), float(r0.opt.param_groups[0]["lr"]), r0.cfg.adam_betas)
    opt.param_groups[0]["fused"] = r0.opt.param_groups[0]["fused"]  # a resumed unfused run stays unfused
    _load_stacked_adam(opt, [r.opt for r in runs], stacked.names)
    zero = torch.zeros(1, dtype=torch.long, device=r0.device)
    batch = r0.batch(zero.expand(1, r0.sched.unlabeled_batch), zero.expand(1, r0.sched.labeled_batch), 0)
    return stacked, step_loss, opt, noise_shapes(r0.model, r0.loss_fn, r0.obj_cfg, *batch)


class StackedStep(StepCounters):
    """One stacked step of R runs as a function of device tensors only, as `step.DeviceStep` is for one run: each
    run's batch order in buffers, one device step counter (the warm-up weight) and position in the epoch."""

    def __init__(self, runs: list[Run], parts):
        r0 = runs[0]
        super().__init__(r0.sched, r0.step, r0.warmup_steps, r0.device, runs=len(runs))
        self.runs, (self.stacked, self.step_loss, self.opt, self.shapes) = runs, parts

    def begin_epoch(self, indices: list[tuple[Tensor, Tensor]]) -> None:
        super().begin_epoch(*(torch.stack(t) for t in zip(*indices)))

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.opt.zero_grad(set_to_none=set_to_none)

    def device_part(self) -> None:
        runs, r0 = self.runs, self.runs[0]
        rows = [
            r.gather(self.u_idx[j].index_select(0, self.index)[0], self.l_idx[j].index_select(0, self.index)[0])
            for j, r in enumerate(runs)
        ]
        xl, yl, xu = (torch.stack(t) for t in zip(*rows))
        noise = [torch.stack([distributions.standard_normal(s, r.gen, xu) for r in runs]) for s in self.shapes]
        with r0.autocast():
            losses, stats = self.step_loss(xl, yl, xu, noise, self.kl_weight())
        losses.sum().backward()  # runs share no parameters: each gets exactly its own gradient
        clip_gradients(self.stacked.params.values(), r0.cfg.grad_clip, stacked=True)
        self.opt.step()
        for j, r in enumerate(runs):
            r.add_stats({k: v[j] for k, v in stats.items()})
        self.advance()

    def host_part(self) -> None:
        for r in self.runs:
            r.count_step()

    def generators(self) -> list[torch.Generator]:
        return [r.gen for r in self.runs]

    def trained(self) -> list[Tensor]:
        params = list(self.stacked.params.values())
        sums = [t for r in self.runs for t in r.sums.values()]
        return [*params, *grads(params), *self.stacked.buffers.values(), *optimizer_tensors(self.opt), *sums]


def _load_stacked_adam(opt: torch.optim.Adam, singles: list[torch.optim.Optimizer], names: list[str]) -> None:
    """Stack resumed runs' Adam moments into the stacked optimizer (nothing to do on a fresh start)."""
    states = [o.state_dict()["state"] for o in singles]
    if not states[0]:
        return
    sd = opt.state_dict()
    for i in range(len(names)):
        sd["state"][i] = {
            "step": states[0][i]["step"].clone(),
            "exp_avg": torch.stack([s[i]["exp_avg"] for s in states]),
            "exp_avg_sq": torch.stack([s[i]["exp_avg_sq"] for s in states]),
        }
    opt.load_state_dict(sd)


def _unstack_into(params: dict[str, Tensor], opt: torch.optim.Adam, runs: list[Run], names: list[str]) -> None:
    """Copy each run's slice of parameters and Adam moments back into its own model and optimizer."""
    stacked_state = [opt.state[params[n]] for n in names]
    with torch.no_grad():
        for j, r in enumerate(runs):
            for n, p in r.model.named_parameters():
                p.copy_(params[n][j])
            for p, st in zip(r.model.parameters(), stacked_state):
                if st:
                    r.opt.state[p] = {
                        "step": st["step"].clone(),
                        "exp_avg": st["exp_avg"][j].clone(),
                        "exp_avg_sq": st["exp_avg_sq"][j].clone(),
                    }
