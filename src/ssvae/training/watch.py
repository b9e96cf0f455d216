"""How a run reports while it trains: a tqdm bar on a terminal, plain lines in a batch log, TensorBoard events.

`Watch` is the choice (plain data, so that runs in other processes and Ray trials report the same way); a
`Reporter` per run carries it out. Under nohup, a scheduler, or `2> run.log` stderr is not a terminal, tqdm's
bars stay silent, and one plain line per evaluation (and at most one a minute inside long epochs) says how the
run goes instead. The loop calls `step` on every step (a clock read, no device sync) and `evaluated` on every
evaluation; neither knows the models or the math.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SSVAEError
from .contracts import Reported

TENSORBOARD_HINT = "--tensorboard needs TensorBoard: pip install 'ssvae[tensorboard]'"


@dataclass(frozen=True)
class Watch:
    bar: bool | None = None  # a tqdm bar per run: None = when stderr is a terminal
    lines: bool | None = None  # plain lines per evaluation: None = when stderr is not a terminal
    tensorboard: str | None = None  # event folders go under this directory
    root: str | None = None  # a run's event folder is named like its run directory relative to this one
    every: float = 60.0  # seconds between lines inside an epoch

    @classmethod
    def of(cls, progress: "Watch | bool | None") -> "Watch":
        """The old `progress` flag: None (decide by the terminal), True (a bar), False (silent)."""
        if isinstance(progress, Watch):
            return progress
        return cls() if progress is None else cls(bar=True, lines=False) if progress else QUIET

    def shows_bar(self) -> bool:
        return sys.stderr.isatty() if self.bar is None else self.bar

    def shows_lines(self) -> bool:
        return (not sys.stderr.isatty()) if self.lines is None else self.lines

    def check(self) -> None:
        """Refuse, before anything trains, what cannot be done (TensorBoard asked for but not installed)."""
        if self.tensorboard is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter  # noqa: F401
            except ImportError:
                raise SSVAEError(TENSORBOARD_HINT) from None

    def event_dir(self, run_dir: Path | None) -> Path | None:
        if self.tensorboard is None:
            return None
        if run_dir is None:
            return Path(self.tensorboard)
        run_dir = Path(run_dir).resolve()
        root = Path(self.root).resolve() if self.root else run_dir.parent
        name = run_dir.relative_to(root) if run_dir.is_relative_to(root) else Path(run_dir.name)
        return Path(self.tensorboard) / name


QUIET = Watch(bar=False, lines=False)


def duration(seconds: float) -> str:
    """Seconds as 1h02m, 3m05s or 7s."""
    if not math.isfinite(seconds):
        return "–"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


class RunDisplay:
    """How stage 2's evaluation rows read: in a log line, beside the bar, as TensorBoard scalars, and the images
    TensorBoard shows (reconstructions and samples); `run`: a `run.Run`."""

    def __init__(self, run: Any):
        self.run = run

    def summary(self, row: dict[str, Any]) -> str:
        acc = "–" if row["val_accuracy"] is None else f"{row['val_accuracy']:.2f}%"
        return f"val acc {acc}, H(q(y|x)) {row['val_entropy']:.3f}, I(y;x) {row['val_mi']:.3f}"

    def postfix(self, row: dict[str, Any]) -> dict[str, Any]:
        acc = "–" if row["val_accuracy"] is None else f"{row['val_accuracy']:.2f}"
        return {"loss": f"{row['train']['loss']:.2f}", "val_acc": acc, "best_epoch": self.run.best_epoch}

    def scalars(self, row: dict[str, Any]) -> dict[str, float]:
        tags = {f"train/{k}": v for k, v in row["train"].items()}
        for k in ("val_accuracy", "val_entropy", "val_mi", "val_marginal_entropy"):
            if row[k] is not None:
                tags[f"val/{k[4:]}"] = row[k]
        return {**tags, "schedule/lr": row["lr"], "schedule/kl_weight": row["kl_weight"]}

    def figures(self) -> dict[str, Any]:
        """Reconstructions of validation images and samples ([H, W] grids), for generative models of images."""
        from ..measures import image_grids as grids
        from .averaging import evaluated_weights

        run = self.run
        shape = tuple(run.dataset.image_shape)
        if run.model.supervised_only or min(shape) < 2 or not len(run.x_watch):
            return {}
        was_training = run.model.training
        with evaluated_weights(run.average):
            recon = grids.reconstruction_grid(run.model, run.x_watch, shape)
            samples = grids.samples_grid(run.model, shape, seed=run.cfg.seed)
        run.model.train(was_training)
        return {"reconstructions": recon, "samples": samples}


class StageDisplay:
    """How stage 1's rows (its ELBO per epoch) read."""

    def summary(self, row: dict[str, Any]) -> str:
        return f"ELBO {row['elbo']:.2f}"

    def postfix(self, row: dict[str, Any]) -> dict[str, str]:
        return {"elbo": f"{row['elbo']:.2f}"}

    def scalars(self, row: dict[str, Any]) -> dict[str, float]:
        return {f"stage1/{k}": row[k] for k in ("elbo", "log_px", "kl")}

    def figures(self) -> dict[str, Any]:
        return {}


class Reporter:
    """One trained thing's lines and TensorBoard events. It knows no stage, only the contract
    (`contracts.Reported`): each says how it is named, where its events go, and how a row reads (`summary`,
    `scalars`, `figures`)."""

    def __init__(self, run: Reported, watch: Watch, clock=time.monotonic):
        self.run, self.watch, self.clock = run, watch, clock
        self.lines = watch.shows_lines()
        self.name = run.display_name
        self.last_line = clock()
        self.writer = None
        event_dir = run.event_dir(watch)
        if event_dir is not None:
            watch.check()
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(event_dir))

    def say(self, text: str) -> None:
        print(f"ssvae: {self.name} {text}", file=sys.stderr, flush=True)
        self.last_line = self.clock()

    def step(self, i: int) -> None:
        """Inside an epoch: a line when the last one is `every` seconds old (long epochs on slow machines)."""
        if self.lines and self.clock() - self.last_line >= self.watch.every:
            run = self.run
            self.say(f"epoch {run.epoch + 1}/{run.epochs}: step {i + 1} of {run.steps_per_epoch}")

    def evaluated(self, row: dict[str, Any], epochs_this_command: int, seconds_this_command: float) -> None:
        run = self.run
        if self.lines:
            per_epoch = seconds_this_command / max(epochs_this_command, 1)
            eta = duration(per_epoch * (run.epochs - run.epoch))
            self.say(f"epoch {run.epoch}/{run.epochs}: {run.display.summary(row)}, {per_epoch:.1f} s/epoch, ETA {eta}")
        if self.writer is not None:
            for tag, value in run.display.scalars(row).items():
                self.writer.add_scalar(tag, value, row["epoch"])
            for tag, image in run.display.figures().items():
                self.writer.add_image(tag, image, row["epoch"], dataformats="HW" if image.ndim == 2 else "HWC")
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
