"""The training loop: knows neither the models nor the math, only `loss_fn(model, batch, gen, ...)`.

Data stay on the device; each epoch draws its batch order with one call per stream on the device
generator, and per-step statistics are summed on the device, so the host never waits on the GPU
between evaluations. Checkpoints are atomic and hold everything needed to resume bit-for-bit on CPU.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from tqdm import tqdm

from . import checkpoint as ck
from .allocator import keep_freed_memory
from .data import Dataset, DeviceData, Split, load_dataset, make_split, resolve_device, to_unit
from .errors import SSVAEError, warn
from .evaluate import elbo, predict_log_proba
from .models import build_model, model_config
from .objectives import WEIGHTINGS, ObjectiveConfig, TermWeights, entropy, loss_function, mutual_information


@dataclass
class TrainConfig:
    """Every setting of a run; the defaults are the paper's section 5.2 protocol."""

    model: str = "m2"
    dataset: str = "fashion-mnist"
    data_dir: str | None = None
    labels_per_class: int = 100
    val_size: int | None = None  # default: min(5000, a tenth of the training split)
    seed: int = 0
    epochs: int = 1000
    lr: float = 3e-4
    adam_betas: tuple[float, float] = (0.9, 0.999)
    lr_decay_every: int = 150
    lr_decay: float = 0.5
    batch_size: int = 200
    labeled_batch_size: int = 200
    warmup_epochs: int = 200
    mier: bool = False
    beta: float = 5.0
    gamma: float = 1.0
    weighting: str = "sum"  # how eq. 4/9's terms are weighted per step: see objectives.WEIGHTINGS
    alpha: float | None = None  # default: 0.1 N (sum) or objectives.default_alpha (mean)
    eval_every: int = 1
    select: str = "auto"  # which epoch's model to keep: see SELECTIONS ("auto": val-accuracy, else last)
    device: str = "auto"
    precision: str = "auto"  # "fp32", "bf16" (autocast matrix products, see PRECISIONS) or "auto" (resolve_precision)
    compile: str = "auto"  # torch.compile the training step: "on", "off", or "auto" (on for CUDA only)
    model_options: dict[str, Any] = field(default_factory=dict)  # e.g. {"likelihood": "continuous-bernoulli"}

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["adam_betas"] = list(self.adam_betas)
        return d


# Matrix-product precision of the training step. Evaluation always runs in float32. bf16 autocast keeps
# densities, KLs and the objective in float32 (the models cast their Gaussian heads and logits up).
PRECISIONS: dict[str, Callable[[torch.device], Any]] = {
    "fp32": lambda device: contextlib.nullcontext(),
    "bf16": lambda device: torch.autocast(device.type, dtype=torch.bfloat16),
}

# What an explicit --precision bf16 costs where bf16 is emulated: M2 on Fashion-MNIST, 2-core AVX2 EPYC (issue 15).
EMULATED_BF16 = "1176 s per M2 epoch against 64.6 in fp32, 18x slower, on a 2-core AVX2 EPYC"


def cpu_capabilities() -> dict[str, Any]:
    """What PyTorch reports of this CPU's instruction sets (torch.cpu.get_capabilities), {} if it cannot say."""
    try:
        return dict(torch.cpu.get_capabilities())
    except Exception:  # older torch, or a platform it does not inspect
        return {}


def native_bf16(device: torch.device) -> bool:
    """bf16 matrix products in hardware: a CUDA GPU that supports them, or a CPU with AMX or AVX-512 BF16."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    caps = cpu_capabilities()
    return bool(caps.get("amx_bf16") or caps.get("avx512_bf16"))


def resolve_precision(name: str, device: torch.device) -> str:
    """'auto': bf16 where the hardware does it natively, else fp32. An explicit bf16 on hardware that emulates it
    is kept (the user asked), with one warning line."""
    if name == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if name == "bf16" and not native_bf16(device):
        warn(
            f"--precision bf16 is emulated on this {device.type.upper()} (no AVX-512 BF16 or AMX): measured "
            f"{EMULATED_BF16}; use --precision auto or fp32"
        )
    return name


def adam(params, lr: float, betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Adam:
    """Adam with torch's fused kernel where the parameters' device has one (CPU and CUDA), else the default.

    On a CPU torch's default is a Python loop over the parameter tensors: 7.5 ms per M2 step on the 2-core EPYC,
    against 0.9 ms fused (benchmarks/RESULTS.md, 'Cutting the CPU step'); on a GPU the fused kernel replaces per-
    tensor launches (not measured here). The two agree to float rounding, not bit for bit, so a run resumed from a
    checkpoint keeps the kind it began with: load_state_dict restores the saved group's `fused` flag (absent, i.e.
    unfused, in runs saved before this existed)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except RuntimeError:  # a device or dtype without the fused kernel
        return torch.optim.Adam(params, lr=lr, betas=betas)


# Settings added after runs were made, with the behaviour runs had before: a run directory without them in its
# config.json resumes only under that behaviour (e.g. --weighting mean), never silently under a new default.
BEFORE_THEY_EXISTED = {"weighting": "mean", "select": "auto"}

# Settings that may change when a run is resumed (e.g. to train longer, or on another machine).
RESUMABLE_CHANGES = {"epochs", "device", "data_dir", "eval_every", "compile"}
COMPILE_MODES = ("auto", "on", "off")


class CompiledStep:
    """A loss function compiled by torch.compile (forward and backward); should compilation or a compiled call
    fail, one warning line, and training goes on with the eager function: never a crash."""

    def __init__(self, fn: Callable):
        self.eager, self.compiled, self.failed = fn, torch.compile(fn), False

    def __call__(self, *args):
        if not self.failed:
            try:
                return self.compiled(*args)
            except Exception as e:  # inductor and dynamo raise many kinds
                self.failed = True
                first = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
                warn(f"torch.compile failed ({type(e).__name__}: {first}); training goes on without --compile")
        return self.eager(*args)


def compiled_if_asked(fn: Callable, mode: str, device: torch.device) -> Callable:
    return CompiledStep(fn) if mode == "on" or (mode == "auto" and device.type == "cuda") else fn


def check_config(cfg: TrainConfig) -> None:
    positive = ("epochs", "batch_size", "labeled_batch_size", "eval_every", "lr_decay_every", "labels_per_class")
    for name in positive:
        if getattr(cfg, name) < 1:
            raise SSVAEError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
    if cfg.warmup_epochs < 0:
        raise SSVAEError(f"--warmup-epochs must be 0 or more, got {cfg.warmup_epochs}")
    for name in ("beta", "gamma"):
        if not getattr(cfg, name) >= 0:
            raise SSVAEError(f"--{name} must be 0 or more (MIER's weights are not negative), got {getattr(cfg, name)}")
    if not cfg.lr > 0:
        raise SSVAEError(f"--lr must be positive, got {cfg.lr}")
    if cfg.select != "auto" and cfg.select not in SELECTIONS:
        raise SSVAEError(f"unknown --select '{cfg.select}'; known: auto, {', '.join(SELECTIONS)}")
    if cfg.weighting not in WEIGHTINGS:
        raise SSVAEError(f"unknown weighting '{cfg.weighting}'; known: {', '.join(WEIGHTINGS)}")
    if cfg.alpha is not None and not cfg.alpha >= 0:
        raise SSVAEError(f"--alpha must be 0 or more, got {cfg.alpha}")
    if cfg.compile not in COMPILE_MODES:
        raise SSVAEError(f"unknown --compile '{cfg.compile}'; known: {', '.join(COMPILE_MODES)}")
    if cfg.precision != "auto" and cfg.precision not in PRECISIONS:
        raise SSVAEError(f"unknown precision '{cfg.precision}'; known: auto, {', '.join(PRECISIONS)}")
    model_config(cfg.model, **cfg.model_options)  # unknown model / likelihood -> clear message


@dataclass
class Schedule:
    """Sizes derived from the data: one epoch is one pass over the unlabeled set."""

    steps_per_epoch: int
    unlabeled_batch: int
    labeled_batch: int
    labeled_batches_per_epoch: int
    weights: TermWeights


def make_schedule(cfg: TrainConfig, n_unlabeled: int, n_labeled: int) -> Schedule:
    bu = min(cfg.batch_size, n_unlabeled)
    bl = min(cfg.labeled_batch_size, n_labeled)
    steps = n_unlabeled // bu  # drop the ragged tail: every step has the same shape
    labeled_batches = math.ceil(n_labeled / bl)
    weights = WEIGHTINGS[cfg.weighting](n_labeled, n_unlabeled, labeled_batches, steps, cfg.alpha)
    return Schedule(steps, bu, bl, labeled_batches, weights)


def epoch_indices(n: int, steps: int, batch: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """[steps, batch] indices: consecutive random permutations of 0..n-1, cycled as often as needed."""
    reps = math.ceil(steps * batch / n)
    perms = torch.rand((reps, n), generator=gen, device=device).argsort(dim=1)
    return perms.flatten()[: steps * batch].view(steps, batch)


def kl_warmup(step: int, warmup_steps: int) -> float:
    """Linear 0 -> 1 over the warm-up (Sønderby et al. 2016); scales only the continuous latents' KL."""
    return 1.0 if warmup_steps == 0 else min(1.0, step / warmup_steps)


def _recorded_config(out: Path) -> dict[str, Any]:
    """The settings of the run already in `out` ({} when there is none)."""
    path = out / ck.CONFIG
    return ck.load_json(path)["config"] if path.is_file() else {}


def _check_resumable(cfg: TrainConfig, out: Path, recorded: dict[str, Any]) -> bool:
    """True when `out` holds a run (`recorded`: its settings, {} for none) to resume; refuses one made with other
    settings. Writes nothing."""
    ck.check_run_dir_path(out)
    if not recorded:
        return False
    new = cfg.to_json()
    old = {**BEFORE_THEY_EXISTED, **recorded}  # a run older than a setting ran with what the code did then
    diff = sorted(k for k in set(old) | set(new) if k not in RESUMABLE_CHANGES and old.get(k) != new.get(k))
    if diff:
        what = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff)
        raise SSVAEError(
            f"{out} holds a run with other settings ({what}); use a new --out, the same flags, or --restart"
        )
    return True


class CollapseGuard:
    """Warns once when predictions pile onto few classes: the entropy of the mean q(y|x) on validation stays below
    half the entropy of the labeled class frequencies for `patience` evaluations in a row. The usual cause is a
    label term too weak for MIER's entropy penalty, which then makes the classifier confidently wrong."""

    def __init__(self, y_lab: torch.Tensor, num_classes: int, patience: int = 3):
        freq = torch.bincount(y_lab.cpu(), minlength=num_classes).double() / len(y_lab)
        self.reference = float(-(freq[freq > 0] * freq[freq > 0].log()).sum())
        self.patience, self.streak, self.warned = patience, 0, False

    def update(self, marginal_entropy: float) -> bool:
        """Record one evaluation; True while the predictions are collapsed."""
        collapsed = marginal_entropy < 0.5 * self.reference
        self.streak = self.streak + 1 if collapsed else 0
        if self.streak >= self.patience and not self.warned:
            self.warned = True
            warn(
                f"predictions have collapsed onto few classes for {self.streak} evaluations (entropy of the mean "
                f"prediction {marginal_entropy:.2f} nats, labels {self.reference:.2f}): the label term is too weak "
                "for the entropy penalty; use --weighting sum, a larger --alpha or a smaller --beta"
            )
        return collapsed


def _val_accuracy(run: "Run", log_q: torch.Tensor) -> float:
    return 100.0 * float((log_q.argmax(-1) == run.data.y_val).float().mean())


def _val_elbo(run: "Run", log_q: torch.Tensor) -> float:
    return float(elbo(run.model, run.data.x_val, seed=run.cfg.seed).mean())


# How the kept ("best") model is chosen: name -> score of the current epoch; the highest score is kept.
SELECTIONS: dict[str, Callable[["Run", torch.Tensor], float]] = {
    "val-accuracy": _val_accuracy,  # labeled validation examples
    "val-elbo": _val_elbo,  # eq. 2 on held-out examples, labels not needed
    "last": lambda run, log_q: float(run.epoch),  # no validation: keep the last epoch
}


class Run:
    """One run's state: its data on the device, model, optimizer, schedule, generator and bookkeeping.

    `train` drives one Run; `ssvae.multirun` drives several through one stacked step; the scikit-learn
    estimator drives one on in-memory data (`data`) without a run directory (`out=None`). Either way the
    metrics and the kept models are the same, and a run started one way can be resumed another.
    """

    def __init__(
        self,
        cfg: TrainConfig,
        out: str | Path | None,
        data: tuple[Dataset, Split] | None = None,
        init: dict[str, Any] | None = None,
    ):
        self.cfg, self.out = cfg, None if out is None else Path(out)
        self.lock: ck.RunLock | None = None
        # Everything that can refuse the run is checked before the run directory is created or written to.
        check_config(cfg)
        self.device = device = resolve_device(cfg.device)
        if device.type == "cpu":
            keep_freed_memory()  # the step's activations reuse freed heap memory instead of fresh pages
        recorded = _recorded_config(self.out) if self.out is not None else {}
        if cfg.precision == "auto" and "precision" in recorded:  # a resumed run keeps the precision it began with
            cfg = dataclasses.replace(cfg, precision=recorded["precision"])
        self.cfg = cfg = dataclasses.replace(cfg, precision=resolve_precision(cfg.precision, device))
        resuming = self.out is not None and _check_resumable(cfg, self.out, recorded)
        if data is not None:
            ds, split = data
        else:
            ds = load_dataset(cfg.dataset, cfg.data_dir)
            split_path = None if self.out is None else self.out / ck.SPLIT
            if resuming and split_path.exists():
                split = Split.load(split_path)
            else:
                val_from = "unlabeled" if cfg.select == "val-elbo" else "labeled"
                lpc = None if ds.partially_labeled else cfg.labels_per_class
                split = make_split(ds.y_train, lpc, cfg.val_size, cfg.seed, val_from, ds.classes)
        self.dataset, self.split = ds, split
        self.select = resolve_select(cfg.select, split, ds.y_train)
        self.data = DeviceData.from_split(ds, split, device)
        self.sched = sched = make_schedule(cfg, len(split.unlabeled), len(split.labeled))
        self.mcfg = mcfg = model_config(cfg.model, **cfg.model_options)
        self.model = build_model(cfg.model, ds.dim, ds.num_classes, mcfg, cfg.seed).to(device)
        self.opt = adam(self.model.parameters(), cfg.lr, cfg.adam_betas)
        self.lr_sched = torch.optim.lr_scheduler.StepLR(self.opt, step_size=cfg.lr_decay_every, gamma=cfg.lr_decay)
        self.gen = torch.Generator(device=device).manual_seed(cfg.seed)
        self.obj_cfg = ObjectiveConfig(mier=cfg.mier, beta=cfg.beta, gamma=cfg.gamma, weights=sched.weights)
        self.loss_fn = loss_function(self.model)
        self.step_loss = compiled_if_asked(self.loss_fn, cfg.compile, device)  # the one-run loop's loss
        self.autocast = functools.partial(PRECISIONS[cfg.precision], device)
        self.warmup_steps = cfg.warmup_epochs * sched.steps_per_epoch
        self.collapse = CollapseGuard(self.data.y_lab, ds.num_classes)
        # predictions watched by the collapse guard when there is no validation set: a fixed unlabeled sample
        self.x_watch = self.data.x_val if len(self.data.x_val) else self.data.x_unl[:2000]
        self.epoch, self.step, self.best_score, self.best_epoch, self.seconds = 0, 0, -math.inf, 0, 0.0
        self.sums: dict[str, torch.Tensor] = {}
        self.steps_in_sums = 0
        self.history: list[dict[str, Any]] = []
        self.best_state: dict[str, torch.Tensor] | None = None
        if resuming and (self.out / ck.LAST).exists():
            state = ck.load_checkpoint(self.out / ck.LAST, device)
            try:
                self.model.load_state_dict(state["model"])
                self.opt.load_state_dict(state["optimizer"])
                self.lr_sched.load_state_dict(state["scheduler"])
                try:
                    self.gen.set_state(state["rng"].cpu())
                except RuntimeError:  # saved by another kind of device (a CUDA and a CPU state differ in kind)
                    self.gen.manual_seed(cfg.seed * 1_000_003 + state["step"])
                    warn(
                        f"{self.out} was checkpointed on another kind of device: it resumes on {device.type} with a "
                        "fresh noise stream, so it will not be bit-identical to an uninterrupted run"
                    )
                self.epoch, self.step = state["epoch"], state["step"]
                self.best_score = state.get("best_score", state.get("best_val_accuracy"))
                self.best_epoch, self.seconds = state["best_epoch"], state["train_seconds"]
                self.sums, self.steps_in_sums = state.get("sums", {}), state.get("steps_in_sums", 0)
            except (KeyError, RuntimeError, ValueError, TypeError) as e:
                raise SSVAEError(
                    f"{self.out / ck.LAST} does not fit this run ({type(e).__name__}: {str(e)[:100]}); "
                    "rerun with --restart to train it again"
                ) from e
        elif init is not None:  # warm start: the model and optimizer of an earlier fit, a new schedule of epochs
            self.model.load_state_dict(init["model"])
            if "optimizer" in init:
                self.opt.load_state_dict(init["optimizer"])
            self.step = init["step"]
        if self.out is not None:
            self.history = [r for r in ck.read_history(self.out / ck.HISTORY) if r["epoch"] <= self.epoch]
            ck.make_run_dir(self.out)
            self.lock = ck.RunLock(self.out)
            try:
                if not (self.out / ck.SPLIT).exists():
                    split.save(self.out / ck.SPLIT)
                ck.save_json(self.out / ck.CONFIG, {"config": cfg.to_json(), **self.describe()})
                ck.write_history(self.out / ck.HISTORY, self.history)  # drops epochs after the checkpoint
            except BaseException:
                self.close()
                raise
            if cfg.warmup_epochs > cfg.epochs:
                warn(
                    f"--warmup-epochs {cfg.warmup_epochs} is longer than --epochs {cfg.epochs}: the KL weight ends "
                    f"at {cfg.epochs / cfg.warmup_epochs:.2f}, not 1; pass --warmup-epochs {max(1, cfg.epochs // 5)} "
                    "(a fifth, as reproduce does)"
                )

    def close(self) -> None:
        """Release the run directory's lock (also released by the OS if the process dies)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def describe(self) -> dict[str, Any]:
        """What, beside the TrainConfig, rebuilds this run's model and reads its data: config.json's other parts."""
        ds, split = self.dataset, self.split
        return {
            "model_config": dataclasses.asdict(self.mcfg),
            "derived": {
                **dataclasses.asdict(self.sched),
                "select": self.select,
                "n_labeled": len(split.labeled),
                "n_unlabeled": len(split.unlabeled),
                "n_validation": len(split.validation),
                "own_labels": ds.partially_labeled,
                "input_dim": ds.dim,
                "image_shape": list(ds.image_shape),
                "num_classes": ds.num_classes,
                "classes": [c.item() if hasattr(c, "item") else c for c in ds.classes],
            },
        }

    @property
    def label(self) -> str:
        return f"{self.cfg.model}{'+mier' if self.cfg.mier else ''}"

    def kl_weight(self) -> float:
        return kl_warmup(self.step, self.warmup_steps)

    def epoch_indices(self) -> tuple[torch.Tensor, torch.Tensor]:
        """This epoch's batch order: unlabeled [steps, Bu] and labeled [steps, Bl], from the run's generator."""
        s, d = self.sched, self.data
        return (
            epoch_indices(len(d.x_unl), s.steps_per_epoch, s.unlabeled_batch, self.gen, self.device),
            epoch_indices(len(d.x_lab), s.steps_per_epoch, s.labeled_batch, self.gen, self.device),
        )

    def batch(self, u_idx: torch.Tensor, l_idx: torch.Tensor, i: int):
        d, li = self.data, l_idx[i]
        return to_unit(d.x_lab[li]), d.y_lab[li], to_unit(d.x_unl[u_idx[i]])

    def record(self, stats: dict[str, torch.Tensor]) -> None:
        """Sum step statistics on the device; read back only at evaluation (no per-step host sync)."""
        for k, v in stats.items():
            self.sums[k] = self.sums[k] + v.detach() if k in self.sums else v.detach().clone()
        self.steps_in_sums += 1
        self.step += 1

    def end_epoch(self, seconds: float) -> dict[str, Any] | None:
        """Step the lr schedule; on evaluation epochs validate, log and checkpoint; returns the logged row."""
        self.lr_sched.step()
        self.seconds += seconds
        self.epoch += 1
        cfg, done = self.cfg, self.epoch
        if done % cfg.eval_every and done != cfg.epochs:
            return None
        log_q = predict_log_proba(self.model, self.x_watch, seed=cfg.seed)
        labeled_val = len(self.data.y_val) > 0 and bool((self.data.y_val >= 0).all())
        mean_h, mi = float(entropy(log_q).mean()), float(mutual_information(log_q))
        marginal = mi + mean_h  # H(mean_x q(y|x)): eq. 8's I plus the mean entropy
        score = SELECTIONS[self.select](self, log_q)
        row = {
            "epoch": done,
            "step": self.step,
            "lr": self.opt.param_groups[0]["lr"],
            "kl_weight": self.kl_weight(),
            "train": {k: float(v) / self.steps_in_sums for k, v in self.sums.items()},
            "val_accuracy": _val_accuracy(self, log_q) if labeled_val else None,
            "val_entropy": mean_h,
            "val_mi": mi,
            "val_marginal_entropy": marginal,
            "collapsed": self.collapse.update(marginal),
            "score": score,
            "train_seconds": self.seconds,
        }
        self.sums, self.steps_in_sums = {}, 0
        self.history.append(row)
        if score > self.best_score:
            self.best_score, self.best_epoch = score, done
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            if self.out is not None:
                ck.save_checkpoint(self.out / ck.BEST, {"model": self.best_state, "epoch": done, "score": score})
        if self.out is not None:
            ck.append_history(self.out / ck.HISTORY, row)
            self.save_last()
        return row

    def save_last(self) -> None:
        """The resume point: everything the next epoch needs, and the step statistics not yet logged."""
        ck.save_checkpoint(
            self.out / ck.LAST,
            {
                "model": self.model.state_dict(),
                "optimizer": self.opt.state_dict(),
                "scheduler": self.lr_sched.state_dict(),
                "rng": self.gen.get_state(),
                "epoch": self.epoch,
                "step": self.step,
                "best_score": self.best_score,
                "best_epoch": self.best_epoch,
                "train_seconds": self.seconds,
                "sums": self.sums,
                "steps_in_sums": self.steps_in_sums,
            },
        )


class TimeBudget:
    """`--time-limit`: start no epoch that is expected to end after the limit, judged from the longest epoch
    timed so far in this process (or, before any, the run's own history). At least one epoch per command, so
    that every command makes progress however short the limit."""

    def __init__(self, seconds: float | None = None, clock: Callable[[], float] = time.monotonic):
        if seconds is not None and not seconds > 0:
            raise SSVAEError(f"--time-limit must be a positive number of seconds, got {seconds}")
        self.seconds, self.clock = seconds, clock
        self.start = clock()
        self.longest, self.epochs_here, self.stopped = 0.0, 0, False
        self.progress: dict[str, tuple[int, int]] = {}  # run directory -> (epochs done, epochs wanted)

    def allows_epoch(self, run: Run) -> bool:
        if self.seconds is None or self.epochs_here == 0:
            return True
        guess = self.longest or run.seconds / max(run.epoch, 1)
        if self.clock() - self.start + guess <= self.seconds:
            return True
        self.stopped = True
        return False

    def timed(self, seconds: float) -> None:
        self.longest, self.epochs_here = max(self.longest, seconds), self.epochs_here + 1

    def record(self, run: Run) -> None:
        self.progress[str(run.out)] = (run.epoch, run.cfg.epochs)

    def merge(self, other: "TimeBudget") -> None:
        """Take in what another process did under its share of this budget (`ssvae.parallel`)."""
        self.progress.update(other.progress)
        self.stopped |= other.stopped
        self.longest = max(self.longest, other.longest)
        self.epochs_here += other.epochs_here

    def summary(self, total_runs_epochs: tuple[int, int] | None = None) -> str:
        done, wanted = total_runs_epochs or tuple(map(sum, zip(*self.progress.values())))
        return f"{done} of {wanted} run-epochs done; run the same command again to continue"


def stop_for_time(runs: list[Run], budget: TimeBudget | None) -> bool:
    """True when the budget allows no further epoch; the runs are then checkpointed where they stand."""
    if budget is None or budget.allows_epoch(runs[0]):
        return False
    for run in runs:
        if run.out is not None and run.epoch % run.cfg.eval_every:  # evaluation epochs are checkpointed already
            run.save_last()
    return True


def resolve_select(select: str, split: Split, y_train) -> str:
    """'auto': accuracy on labeled validation examples when there are any, else the last epoch."""
    if select == "auto":
        labeled = len(split.validation) > 0 and bool((y_train[split.validation] >= 0).all())
        return "val-accuracy" if labeled else "last"
    if select != "last" and len(split.validation) == 0:
        raise SSVAEError(f"--select {select} needs validation examples; give --val-size or use --select last")
    if select == "val-accuracy" and (y_train[split.validation] < 0).any():
        raise SSVAEError("--select val-accuracy needs labeled validation examples; use --select val-elbo")
    return select


def progress_bar(start: int, total: int, desc: str, progress: bool | None) -> tqdm:
    disable = None if progress is None else not progress
    return tqdm(
        range(start, total), initial=start, total=total, disable=disable, desc=desc, unit="epoch", dynamic_ncols=True
    )


def run_epochs(run: Run, progress: bool | None = None, on_epoch_end=None, budget: TimeBudget | None = None) -> Run:
    """The training loop: the run's remaining epochs (or as many as `budget` allows), one minibatch step after
    another."""
    cfg = run.cfg
    clock = budget.clock if budget is not None else time.perf_counter
    bar = progress_bar(run.epoch, cfg.epochs, run.label, progress)
    for _ in bar:
        if stop_for_time([run], budget):
            break
        t0 = clock()
        run.model.train()
        u_idx, l_idx = run.epoch_indices()
        for i in range(run.sched.steps_per_epoch):
            with run.autocast():
                loss, stats = run.step_loss(
                    run.model, *run.batch(u_idx, l_idx, i), run.gen, run.obj_cfg, run.kl_weight()
                )
            run.opt.zero_grad(set_to_none=True)
            loss.backward()
            run.opt.step()
            run.record(stats)
        row = run.end_epoch(clock() - t0)
        if budget is not None:
            budget.timed(clock() - t0)
        if row is None:
            continue
        acc = "–" if row["val_accuracy"] is None else f"{row['val_accuracy']:.2f}"
        bar.set_postfix(loss=f"{row['train']['loss']:.2f}", val_acc=acc, best_epoch=run.best_epoch)
        if on_epoch_end is not None:
            on_epoch_end(row["epoch"], row)
    bar.close()
    if budget is not None:
        budget.record(run)
    return run


def train(
    cfg: TrainConfig,
    out: str | Path,
    on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None,
    progress: bool | None = None,
    budget: TimeBudget | None = None,
) -> Path:
    """Train one run into `out`; rerunning on the same directory resumes from its last checkpoint. A finished
    run also exports its kept and its last model as `model-best/` and `model-last/` (safetensors + JSON)."""
    run = Run(cfg, out)
    try:
        run_epochs(run, progress, on_epoch_end, budget)
        if run.epoch >= cfg.epochs:
            export_models(run)
    finally:
        run.close()
    return run.out


def export_models(run: Run) -> None:
    from .saved import save_model

    meta = run.describe()
    info = {"config": run.cfg.to_json(), "best_epoch": run.best_epoch, "epochs": run.epoch}
    save_model(run.out / "model-last", run.model.state_dict(), run.cfg.model, meta, unit_preprocessing(run), info)
    best = run.best_state or ck.load_checkpoint(run.out / ck.BEST, "cpu")["model"]
    save_model(run.out / "model-best", best, run.cfg.model, meta, unit_preprocessing(run), info)


def unit_preprocessing(run: Run) -> dict[str, Any]:
    """Run directories train on [0, 1] intensities (uint8 images divided by 255), shaped as the data set's."""
    return {"kind": "unit", "input_shape": list(run.dataset.image_shape)}
