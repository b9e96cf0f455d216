"""What the training loop and its helpers need of what they drive, named once as `typing.Protocol` classes.

The loop (`loop.run_epochs`), the time budget (`budget`), the reports (`watch.Reporter`), the step (`step`) and
model selection (`selection`) see these contracts, never `Run`, `StageRun` or `StackedRuns` themselves, so none of
them imports the run and a change to the run is checked against the contract it must keep:

* `Stage` is what the loop drives: one run's stage 2 (`run.Run`), a feature stage (`stage1.StageRun`) or several
  runs stacked into one step (`stacked.StackedRuns`). A step that trains R runs is still one step.
* `Reported` is one trained thing as the reports and the time budget see it (each stacked run is one).
* `Step` is one optimizer step, and `StepParts` what a run hands its step (`step.DeviceStep`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn


class Step(Protocol):
    """One optimizer step: `begin_epoch` hands it the epoch's batch order, each call takes the next step."""

    def begin_epoch(self, *order: Any) -> None: ...

    def __call__(self) -> None: ...


class Display(Protocol):
    """How one trained thing's rows read: a log line, the bar's postfix, TensorBoard scalars and images."""

    def summary(self, row: dict[str, Any]) -> str: ...

    def postfix(self, row: dict[str, Any]) -> dict[str, Any]: ...

    def scalars(self, row: dict[str, Any]) -> dict[str, float]: ...

    def figures(self) -> dict[str, Any]: ...


class Reported(Protocol):
    """One trained thing as lines, TensorBoard and `--time-limit` see it."""

    out: Path | None  # its folder (None in memory)
    epoch: int  # epochs done
    seconds: float  # seconds trained so far
    saved_epoch: int  # the epoch its resume point holds

    @property
    def epochs(self) -> int: ...  # epochs asked for

    @property
    def steps_per_epoch(self) -> int: ...

    @property
    def display_name(self) -> str: ...

    def save_last(self) -> None: ...

    def event_dir(self, watch: Any) -> Path | None: ...

    @property
    def display(self) -> Display: ...  # how its rows read (`watch.RunDisplay`, `watch.StageDisplay`)


class Stage(Protocol):
    """What `run_epochs` drives: its step, its batch order, its end of epoch and its label, nothing of the math."""

    epoch: int

    @property
    def epochs(self) -> int: ...

    @property
    def steps_per_epoch(self) -> int: ...

    @property
    def label(self) -> str: ...  # the progress bar's

    @property
    def members(self) -> list[Reported]: ...  # what is reported: itself, or each stacked run

    def train_mode(self) -> None: ...  # before an epoch's steps

    def make_step(self) -> Step: ...

    def epoch_indices(self) -> tuple[Any, ...]: ...  # the arguments of `Step.begin_epoch`

    def end_epoch(self, seconds: float) -> list[dict[str, Any]] | None: ...  # a row per member, when evaluated

    def postfix(self, rows: list[dict[str, Any]]) -> dict[str, str]: ...


class StepParts(Protocol):
    """What one run hands its device step (`step.DeviceStep`): model, optimizer, loss and what they read."""

    model: nn.Module
    opt: torch.optim.Optimizer
    gen: torch.Generator
    device: torch.device
    step: int  # steps taken so far
    warmup_steps: int
    sched: Any  # `schedule.Schedule`
    cfg: Any  # `config.TrainConfig`
    obj_cfg: Any  # `core.objectives.ObjectiveConfig`
    average: Any  # `averaging` (--ema) or None
    sums: dict[str, torch.Tensor]

    def step_loss(self, *args: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]: ...

    def autocast(self) -> Any: ...

    def gather(self, u_rows: torch.Tensor, l_rows: torch.Tensor) -> tuple[torch.Tensor, ...]: ...

    def targets(self, u_rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None: ...

    def add_stats(self, stats: dict[str, torch.Tensor]) -> None: ...

    def count_step(self) -> None: ...


class Selected(Protocol):
    """What model selection reads of a run (`selection.SELECTIONS`)."""

    model: nn.Module
    epoch: int
    cfg: Any
    data: Any  # `data.DeviceData`
