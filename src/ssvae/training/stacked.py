"""Several runs through one training step: the parameters of R models stacked, the step vmapped over them.

One run at batch 200 cannot fill a GPU (it is launch- and shape-bound); R runs stacked turn each matrix product
into one batched product R times larger. On a CPU stacking buys nothing, so `train_many` loops there.

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
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from ..core import distributions
from ..core.distributions import NoiseRecorder, NoiseTape
from ..core.objectives import ObjectiveConfig, run_weights
from ..errors import SSVAEError
from .budget import StoppedInStage1, TimeBudget, stop_for_time
from .config import PER_RUN, TrainConfig
from .graphs import graphed_if_asked
from .hardware import adam, compiled_if_asked, follow_lr
from .loop import export_models, open_run, progress_bar, train
from .run import Run
from .stacked_validation import StackedValidation
from .step import StepCounters, clip_gradients, grads, optimizer_tensors
from .watch import Reporter, Watch


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
    schedule), and keep no moving average of their weights (`--ema`: its runs train one by one)."""
    strip = [{k: v for k, v in dataclasses.asdict(c).items() if k not in PER_RUN and k != "seed"} for c in cfgs]
    return all(s == strip[0] for s in strip[1:]) and not any(c.ema for c in cfgs)


def train_stacked(
    cfgs: list[TrainConfig],
    outs: list[str | Path],
    progress: Watch | bool | None = None,
    budget: TimeBudget | None = None,
) -> list[Path]:
    """Several runs that differ only in seed or MIER, trained through one vmapped step."""
    runs: list[Run] = []
    try:
        for c, o in zip(cfgs, outs):
            runs.append(open_run(c, o, watch=Watch.of(progress), budget=budget))
        return _train_stacked(runs, progress, budget)
    except StoppedInStage1:  # a feature stage is checkpointed; no stacked epoch begins in this command
        for r in runs:
            budget.record(r)
        for c, o in zip(cfgs[len(runs) :], outs[len(runs) :]):
            budget.progress[str(o)] = (0, c.epochs)
        return [Path(o) for o in outs]
    finally:
        for r in runs:
            r.close()


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


def _train_stacked(runs: list[Run], progress: Watch | bool | None, budget: TimeBudget | None) -> list[Path]:
    r0, cfgs, watch = runs[0], [r.cfg for r in runs], Watch.of(progress)
    if not stackable(cfgs) or len({r.epoch for r in runs}) > 1 or len({r.sched.steps_per_epoch for r in runs}) > 1:
        raise NotStackable("train_stacked needs runs that differ only in seed or MIER and stand at the same epoch")
    bar = progress_bar(r0.epoch, r0.cfg.epochs, f"{r0.cfg.model} x{len(runs)}", watch.shows_bar())
    reporters = [Reporter(r, watch) for r in runs]
    try:
        _stacked_epochs(runs, _stacked_parts(runs), bar, reporters, budget)
    finally:
        bar.close()
        for rep in reporters:
            rep.close()
    for r in runs:
        if budget is not None:
            budget.record(r)
        if r.epoch >= r.cfg.epochs:
            export_models(r)
    return [r.out for r in runs]


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


def _stacked_epochs(runs: list[Run], parts, bar, reporters: list[Reporter], budget: TimeBudget | None) -> None:
    """The stacked loop: the runs' remaining epochs (or as many as `budget` allows), one stacked step after another,
    each run's slice copied back into its own model and optimizer at every epoch's end."""
    r0, (stacked, _, opt, _) = runs[0], parts
    params, names, epochs_here, seconds_here = stacked.params, stacked.names, 0, 0.0
    clock = budget.clock if budget is not None else time.perf_counter
    step = graphed_if_asked(StackedStep(runs, parts), r0.cfg.cuda_graphs, r0.device)
    validation = StackedValidation(runs, stacked)
    for _ in bar:
        if stop_for_time(runs, budget):
            break
        t0 = clock()
        step.begin_epoch([r.epoch_indices() for r in runs])
        for i in range(r0.sched.steps_per_epoch):
            step()
            reporters[0].step(i)
        seconds = clock() - t0
        _unstack_into(params, opt, runs, names)
        with warnings.catch_warnings():  # each run's own optimizer never steps here; its schedule still must
            warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")
            evaluated = [r.close_epoch(seconds) for r in runs]
        rows = validation.rows() if evaluated[0] else [None] * len(runs)
        follow_lr(opt, r0.opt)
        epochs_here, seconds_here = epochs_here + 1, seconds_here + seconds
        if budget is not None:
            budget.timed(clock() - t0)
        if rows[0] is not None:
            for rep, row in zip(reporters, rows):
                rep.evaluated(row, epochs_here, seconds_here)
            accs = [row["val_accuracy"] for row in rows]
            bar.set_postfix(val_acc=f"{min(accs):.1f}-{max(accs):.1f}")


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


def train_many(
    cfgs: list[TrainConfig],
    outs: list[str | Path],
    progress: Watch | bool | None = None,
    stack: bool | None = None,
    budget: TimeBudget | None = None,
    jobs: int = 1,
) -> list[Path]:
    """Train several runs: stacked into one step on a GPU (or when `stack` says so), else `jobs` at a time in
    separate processes (`ssvae.parallel`), else one by one."""
    if stack is None:
        stack = len(cfgs) > 1 and stackable(cfgs) and _on_gpu(cfgs[0])
    if stack:
        try:
            return train_stacked(cfgs, outs, progress, budget)
        except NotStackable:
            pass  # runs at different epochs (partly resumed grids): fall back to one by one
    if jobs > 1 and len(cfgs) > 1 and not _on_gpu(cfgs[0]):  # on a GPU, runs that cannot stack go one by one
        from .parallel import train_parallel

        return train_parallel(cfgs, outs, min(jobs, len(cfgs)), budget or TimeBudget(), Watch.of(progress))
    return [train(c, o, progress=progress, budget=budget) for c, o in zip(cfgs, outs)]


def _on_gpu(cfg: TrainConfig) -> bool:
    from ..data import resolve_device

    return resolve_device(cfg.device).type == "cuda"


def seeds_configs(cfg: TrainConfig, seeds: list[int], out: str | Path) -> tuple[list[TrainConfig], list[Any]]:
    """One config and run directory per seed: OUT/seed{S}."""
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise SSVAEError(f"--seeds repeats {', '.join(map(str, repeated))}; give each seed once")
    return ([dataclasses.replace(cfg, seed=s) for s in seeds], [Path(out) / f"seed{s}" for s in seeds])
