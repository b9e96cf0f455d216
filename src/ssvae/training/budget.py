"""`--time-limit`: how many epochs fit in the time left, and what a command that stops for time has done."""

from __future__ import annotations

import time
from typing import Callable

from ..errors import SSVAEError
from .contracts import Reported


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

    def allows_epoch(self, run: Reported) -> bool:
        """For an epoch of either stage: stage 1's epochs are timed and counted as stage 2's are."""
        return self._allows(lambda: self.longest or run.seconds / max(run.epoch, 1))

    def _allows(self, guess: Callable[[], float]) -> bool:
        """Whether one more epoch, expected to take `guess()` seconds, ends within the limit."""
        if self.seconds is None or self.epochs_here == 0:
            return True
        if self.clock() - self.start + guess() <= self.seconds:
            return True
        self.stopped = True
        return False

    def timed(self, seconds: float) -> None:
        self.longest, self.epochs_here = max(self.longest, seconds), self.epochs_here + 1

    def record(self, run: Reported) -> None:
        self.progress[str(run.out)] = (run.epoch, run.epochs)

    def merge(self, other: "TimeBudget") -> None:
        """Take in what another process did under its share of this budget (`ssvae.parallel`)."""
        self.progress.update(other.progress)
        self.stopped |= other.stopped
        self.longest = max(self.longest, other.longest)
        self.epochs_here += other.epochs_here

    def summary(self, total_runs_epochs: tuple[int, int] | None = None) -> str:
        done, wanted = total_runs_epochs or tuple(map(sum, zip(*self.progress.values())))
        return f"{done} of {wanted} run-epochs done; run the same command again to continue"


class StoppedInStage1(Exception):
    """The budget ran out while a feature stage trained: it is checkpointed, and the run has not begun."""


def stop_for_time(runs: list[Reported], budget: TimeBudget | None) -> bool:
    """True when the budget allows no further epoch; the runs are then checkpointed where they stand."""
    if budget is None or budget.allows_epoch(runs[0]):
        return False
    for run in runs:
        if run.out is not None and run.saved_epoch != run.epoch:  # not yet checkpointed at this epoch
            run.save_last()
    return True
