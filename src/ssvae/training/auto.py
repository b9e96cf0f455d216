"""Settings chosen from the data when the user leaves them to us ("auto"): how many epochs a fit trains, and how
many optimizer steps that makes (what a fit with fewer is told).

The rules are measured, never guessed: each says where its numbers come from (the manual's findings).
"""

from __future__ import annotations

import math

# epochs="auto", feature_epochs="auto": enough passes for about STEPS optimizer steps, and at least LEAST and at
# most MOST of them, so that a large set is not trained for longer than it needs nor a small one for too few
# updates. Measured on validation (the manual's findings): Fashion-MNIST at 10 labels per class, M1 then M2 on
# its code at lr 1e-3: 30 stage-1 epochs (9,000 steps of 200) and 20 stage-2 epochs came within noise of 100 + 50
# epochs at lr 3e-4 (results/fit-defaults-n10); digits' 1,500 images: the 100 epochs its defaults were chosen with.
# Small tables (issue 47) are being measured (results/small-tables): MOST leaves a table of a few hundred rows
# about 100 steps, and whether more serve it is not settled yet.
AUTO_EPOCHS = {"epochs": (5_000, 20, 100), "feature_epochs": (9_000, 30, 100)}  # name -> (STEPS, LEAST, MOST)


def auto_epochs(name: str, steps_per_epoch: int) -> int:
    """`epochs="auto"`: enough epochs for the measured number of steps, within the measured bounds."""
    steps, least, most = AUTO_EPOCHS[name]
    return min(most, max(least, math.ceil(steps / max(steps_per_epoch, 1))))


def too_few_steps(epochs: int, steps_per_epoch: int) -> tuple[int, int] | None:
    """(steps made, steps the rule gives these rows) when `epochs` of stage 2 make fewer than `epochs="auto"`
    would, else None: what a verbose fit's first line and its ConvergenceWarning say."""
    made, wanted = epochs * steps_per_epoch, auto_epochs("epochs", steps_per_epoch) * max(steps_per_epoch, 1)
    return (made, wanted) if made < wanted else None
