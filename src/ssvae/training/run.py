"""One run: its config, data on the device, training state, run directory and evaluation, put together.

`set_up` checks a run and puts its data on the device, before anything trains; `ssvae.training.loop` trains its
feature stage (if any), makes the Run and drives it; `ssvae.training.stacked` drives several through one stacked
step; the scikit-learn estimator drives one on in-memory data without a run directory (`out=None`). Either way the
metrics and the kept models are the same, and a run started one way can be resumed another.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..core.features import featurized, stage_spec
from ..core.models import MODELS
from ..data import Dataset, DeviceData, Split, labeled_validation, load_dataset, make_split, resolve_device
from ..data.device import to_unit
from ..errors import SSVAEError, warn
from ..files import check_writable_folder
from ..machine.cuda_graphs import graphed_if_asked, graphs_wanted
from ..machine.hardware import PRECISIONS, compiled_if_asked, keep_freed_memory, resolve_precision
from ..measures.metrics import predict_log_proba
from ..records import rundir as rd
from .averaging import evaluated_weights
from .build import build
from .config import BEFORE_THEY_EXISTED, RESUMABLE_CHANGES, TrainConfig, check_config, effective, shown, source_options
from .memory import check_step_memory
from .schedule import epoch_indices, kl_warmup
from .selection import SELECTIONS, CollapseGuard, resolve_select
from .stage1 import stage_likelihood
from .state import TrainingState
from .step import DeviceStep
from .teacher import check_teacher, teacher_targets
from .validation import split_watched, watched_numbers
from .watch import QUIET, RunDisplay, Watch


def check_resumable(cfg: TrainConfig, out: Path, recorded: dict[str, Any]) -> bool:
    """True when `out` holds a run (`recorded`: its settings, {} for none) to resume; refuses one made with other
    settings. Writes nothing."""
    rd.check_run_dir_path(out)
    if not recorded:
        return False
    new = cfg.to_json()
    old = {**BEFORE_THEY_EXISTED, **recorded}  # a run older than a setting ran with what the code did then
    # a setting with no effect in this run (recorded by a version that did not normalise it) is not a difference
    same = RESUMABLE_CHANGES | {k for k in new if not shown(cfg, k)}
    diff = sorted(k for k in set(old) | set(new) if k not in same and old.get(k) != new.get(k))
    if diff:
        what = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff)
        raise SSVAEError(
            f"{out} holds a run with other settings ({what}); use a new --out, the same flags, or --restart"
        )
    return True


def folders_written(cfg: TrainConfig, out: Path | None, watch: Watch) -> dict[str, Path]:
    """The folders besides the run directory that a run writes into, by the setting that names them."""
    folders = {"--tensorboard": watch.event_dir(out)}
    if featurized(cfg.features) and cfg.features_dir is not None:
        folders["--features-dir"] = Path(cfg.features_dir)
    return {what: folder for what, folder in folders.items() if folder is not None}


def load_data(cfg: TrainConfig, out: Path | None, resuming: bool) -> tuple[Dataset, Split]:
    """The data set and this run's split: the recorded one when resuming, else drawn from the seed."""
    ds = load_dataset(cfg.dataset, cfg.data_dir, **source_options(dataclasses.asdict(cfg)))
    if resuming and (out / rd.SPLIT).exists():
        return ds, Split.load(out / rd.SPLIT)
    val_from = "unlabeled" if cfg.select == "val-elbo" else "labeled"
    lpc = None if ds.partially_labeled else cfg.labels_per_class
    return ds, make_split(ds.y_train, lpc, cfg.val_size, cfg.seed, val_from, ds.classes)


@dataclass
class Setup:
    """A run checked and its data on the device: everything that can refuse it, done before anything trains (stage
    1 included) or is written."""

    cfg: TrainConfig  # effective, its precision resolved
    out: Path | None
    dir: rd.RunDir | None
    resuming: bool
    dataset: Dataset
    split: Split
    data: DeviceData
    select: str
    features: dict[str, Any] | None  # the feature stage's record (`stage_spec`), None without one


def set_up(
    cfg: TrainConfig, out: str | Path | None, data: tuple[Dataset, Split] | None = None, watch: Watch = QUIET
) -> Setup:
    """Everything that can refuse a run, checked before anything trains or is written; its data on the device."""
    check_config(cfg)
    cfg = effective(cfg)  # recorded and compared as what it trains
    device = resolve_device(cfg.device)
    if device.type == "cpu":
        keep_freed_memory()  # the step's activations reuse freed heap memory instead of fresh pages
    out = None if out is None else Path(out)
    run_dir = None if out is None else rd.RunDir(out)
    recorded = run_dir.recorded_config() if run_dir else {}
    if cfg.precision == "auto" and "precision" in recorded:  # a resumed run keeps the precision it began with
        cfg = dataclasses.replace(cfg, precision=recorded["precision"])
    cfg = dataclasses.replace(cfg, precision=resolve_precision(cfg.precision, device))
    graphs_wanted(cfg.cuda_graphs, device)  # --cuda-graphs on without a GPU: refused before anything is written
    resuming = run_dir is not None and check_resumable(cfg, out, recorded)
    for what, folder in folders_written(cfg, out, watch).items():
        check_writable_folder(folder, what)
    ds, split = data if data is not None else load_data(cfg, out, resuming)
    select = resolve_select(cfg.select, split, ds.y_train)
    check_step_memory(cfg, ds.dim, ds.num_classes, len(split.labeled), len(split.unlabeled), device)
    check_teacher(cfg.teacher, MODELS[cfg.model].supervised_only)
    features = stage_spec(cfg.features, cfg.feature_code, stage_likelihood(cfg, ds))
    return Setup(cfg, out, run_dir, resuming, ds, split, DeviceData.from_split(ds, split, device), select, features)


class Run(TrainingState):
    """One run's state (`TrainingState`), data on the device, schedule, objective and bookkeeping: stage 2 as the
    training loop sees it (`ssvae.training.loop.open_run` makes one, after its stage 1)."""

    def __init__(self, setup: Setup, stage: nn.Module | None = None, init: dict[str, Any] | None = None):
        """`stage`: the trained feature stage (None: none, or the one a warm start's `init` brings in its weights)."""
        self.cfg = cfg = setup.cfg
        self.device = device = setup.data.x_unl.device
        self.out, self.dir, self.select, self.features = setup.out, setup.dir, setup.select, setup.features
        self.dataset, self.split, self.data = setup.dataset, setup.split, setup.data
        ds, split = setup.dataset, setup.split
        parts = build(cfg, ds, split, device, self.features, stage)
        super().__init__(parts.model, parts.opt, parts.lr_sched, torch.Generator(device=device), cfg.seed, cfg.ema)
        self.gen.manual_seed(cfg.seed)
        self.mcfg, self.sched, self.obj_cfg = parts.model_config, parts.sched, parts.objective
        self.loss_fn = parts.loss_fn
        self.step_loss = compiled_if_asked(self.loss_fn, cfg.compile, device)  # the one-run loop's loss
        self.autocast = functools.partial(PRECISIONS[cfg.precision], device)
        self.warmup_steps = cfg.warmup_epochs * parts.sched.steps_per_epoch
        self.collapse = CollapseGuard(self.data.y_lab, ds.num_classes)
        # predictions watched by the collapse guard when there is no validation set: a fixed unlabeled sample
        self.x_watch = self.data.x_val if len(self.data.x_val) else self.data.x_unl[:2000]
        self.y_watch = self.data.y_val if len(self.data.x_val) else torch.full((len(self.x_watch),), -1, device=device)
        self.labeled_val = labeled_validation(self.data.y_val)  # read once, not at every evaluation
        self.display = RunDisplay(self)
        stage = self.model.stage if self.features else None  # the trained stage, also after a warm start
        self.taught = teacher_targets(self.data, ds.num_classes, stage) if cfg.teacher else None
        self.history: list[dict[str, Any]] = []
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_unsaved = False
        if setup.resuming and self.dir.has_checkpoint():
            self.load_state_dict(self.dir.load_last(device), str(self.out / rd.LAST))
        elif init is not None:
            self.warm_start(init)
        self.saved_at, self.saved_epoch = self.seconds, self.epoch  # what last.pt holds (`save_last`)
        if self.dir is not None:
            self.history = self.dir.read_history(upto=self.epoch)
            self.dir.open(split, {"config": cfg.to_json(), **self.describe()}, self.history)
            self._warn_long_warmup()

    def _warn_long_warmup(self) -> None:
        cfg = self.cfg
        if cfg.warmup_epochs > cfg.epochs:
            warn(
                f"--warmup-epochs {cfg.warmup_epochs} is longer than --epochs {cfg.epochs}: the KL weight ends "
                f"at {cfg.epochs / cfg.warmup_epochs:.2f}, not 1; pass --warmup-epochs {max(1, cfg.epochs // 5)} "
                "(a fifth, as reproduce does)"
            )

    def close(self) -> None:
        """Release the run directory's lock (also released by the OS if the process dies)."""
        if self.dir is not None:
            self.dir.close()

    def describe(self) -> dict[str, Any]:
        """What, beside the TrainConfig, rebuilds this run's model and reads its data: config.json's other parts."""
        ds, split = self.dataset, self.split
        return {
            "model_config": dataclasses.asdict(self.mcfg),
            "features": self.features,
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
                "test_split": ds.test_origin or "the data's own",
            },
        }

    @property
    def epochs(self) -> int:
        return self.cfg.epochs

    @property
    def steps_per_epoch(self) -> int:
        return self.sched.steps_per_epoch

    @property
    def display_name(self) -> str:
        """How its lines name it: the run directory, else the model (the estimator)."""
        return str(self.out) if self.out is not None else self.label

    def make_step(self):
        """One training step as a function of device tensors (`step.DeviceStep`), captured on a GPU if asked."""
        return graphed_if_asked(DeviceStep(self), self.cfg.cuda_graphs, self.device)

    def event_dir(self, watch: Watch) -> Path | None:
        return watch.event_dir(self.out)

    def postfix(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return self.display.postfix(rows[0])

    @property
    def label(self) -> str:
        cfg = self.cfg
        return f"{cfg.features + '+' if self.features else ''}{cfg.model}{'+mier' if cfg.mier else ''}"

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
        """Step i's batches from this epoch's order (`epoch_indices`)."""
        return self.gather(u_idx[i], l_idx[i])

    def targets(self, u_rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The graph teacher's class and confidence at these unlabeled rows (`--teacher`), gathered on the device."""
        return None if self.taught is None else (self.taught[0][u_rows], self.taught[1][u_rows])

    def gather(self, u_rows: torch.Tensor, l_rows: torch.Tensor):
        """(labeled x, its y, unlabeled x) at these rows, x as [0, 1] floats: gathered on the device."""
        d = self.data
        return to_unit(d.x_lab[l_rows]), d.y_lab[l_rows], to_unit(d.x_unl[u_rows])

    @property
    def members(self) -> list["Run"]:
        """What the loop reports of this stage (`contracts.Stage`): the run itself."""
        return [self]

    def train_mode(self) -> None:
        self.model.train()

    def end_epoch(self, seconds: float) -> list[dict[str, Any]] | None:
        """Step the lr schedule; on evaluation epochs validate, log and checkpoint; returns the logged row."""
        return [self.log_evaluation()] if self.close_epoch(seconds) else None

    def close_epoch(self, seconds: float) -> bool:
        """Step the lr schedule and the counters; whether this epoch is one to evaluate."""
        self.lr_sched.step()
        self.seconds += seconds
        self.epoch += 1
        return not (self.epoch % self.cfg.eval_every and self.epoch != self.cfg.epochs)

    def log_evaluation(self, values: list[float] | None = None) -> dict[str, Any]:
        """Validate (or take `values`, this run's `watched()` read back with a stacked group's), log, keep the best
        model and checkpoint; with `--ema` the weights validated and kept are the average."""
        with evaluated_weights(self.average):
            row = self.evaluation_row(self.watched().tolist() if values is None else values)
            self.history.append(row)
            if row["score"] > self.best_score:
                self.best_score, self.best_epoch = row["score"], self.epoch
                self.best_state = self.weights_copy()  # the average's, inside the block
                self.best_unsaved = True  # written with the next resume point (`save_last`), never before it
        if self.dir is not None:
            self.dir.append(row)
            if self.epoch == self.cfg.epochs or self.seconds - self.saved_at >= self.cfg.checkpoint_seconds:
                self.save_last()
        return row

    def evaluated_state(self) -> dict[str, torch.Tensor]:
        """A copy of the weights this run evaluates now (the average with `--ema`): what it keeps and exports."""
        with evaluated_weights(self.average):
            return self.weights_copy()

    def weights_copy(self) -> dict[str, torch.Tensor]:
        """A copy of the weights the model holds now."""
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def watched(self, log_q: torch.Tensor | None = None) -> torch.Tensor:
        """This evaluation's numbers on the device (`validation.WATCHED`, then the step statistics' sums); `log_q`:
        q(y|x) on `x_watch` when a stacked group has computed it already."""
        if log_q is None:
            log_q = predict_log_proba(self.model, self.x_watch, seed=self.cfg.seed)
        return watched_numbers(log_q, self.y_watch, self.opt.param_groups[0]["lr"], list(self.sums.values()))

    def evaluation_row(self, values: list[float]) -> dict[str, Any]:
        """The row metrics.jsonl logs for this epoch, from the numbers `watched` read back."""
        v, sums = split_watched(values)
        self.check_finite(values, sums, self.sched.steps_per_epoch, self.divergence_advice)
        marginal = v["val_mi"] + v["val_entropy"]  # H(mean_x q(y|x)): eq. 8's I plus the mean entropy
        return {
            "epoch": self.epoch,
            "step": self.step,
            "lr": v["lr"],
            "kl_weight": self.kl_weight(),
            "train": self.mean_stats(sums),
            "val_accuracy": v["val_accuracy"] if self.labeled_val else None,
            "val_entropy": v["val_entropy"],
            "val_mi": v["val_mi"],
            "val_marginal_entropy": marginal,
            "collapsed": self.collapse.update(marginal),
            "score": SELECTIONS[self.select](self, v),
            "train_seconds": self.seconds,
        }

    def divergence_advice(self) -> str:
        """What a diverged run keeps, and the settings that usually cause it, for `TrainingState.check_finite`."""
        cfg = self.cfg
        clip = "" if cfg.grad_clip else ", or clip the gradients (grad_clip)"
        if self.dir is not None and self.saved_epoch:
            kept, again = f"{self.out / rd.LAST} keeps epoch {self.saved_epoch}", "(--restart, or a new --out) "
        else:
            kept, again = "nothing was kept (the run directory is as it was)", ""
        return (
            f"{kept}; the usual cause is too large a learning rate (lr {cfg.lr:g}): train again {again}with a "
            f"smaller one{clip}"
        )

    def save_last(self) -> None:
        """The resume point: everything the next epoch needs, and the step statistics not yet logged. The kept
        model goes first: a crash between the two leaves an older last.pt, whose repeated epochs write the same
        best.pt again; the other order could leave a last.pt whose best epoch best.pt never got. So with
        --checkpoint-seconds the kept model, too, is written only that often (one file per run, not one per
        improving epoch), and resuming stays exact."""
        if self.best_unsaved:
            self.dir.save_best({"model": self.best_state, "epoch": self.best_epoch, "score": self.best_score})
            self.best_unsaved = False
        self.dir.save_last(self.state_dict())
        self.saved_at, self.saved_epoch = self.seconds, self.epoch
