"""Settings chosen from the data when the user leaves them to us ("auto"): a fit's batch size and epochs.

The rules are measured, never guessed: each says where its numbers come from (the manual's findings).
"""

from __future__ import annotations

import math

# epochs="auto", feature_epochs="auto": enough passes for about STEPS optimizer steps, and at least LEAST and at
# most MOST of them, so that a large set is not trained for longer than it needs nor a small one for too few
# updates. Measured on validation (the manual's findings): Fashion-MNIST at 10 labels per class, M1 then M2 on
# its code at lr 1e-3: 30 stage-1 epochs (9,000 steps of 200) and 20 stage-2 epochs came within noise of 100 + 50
# epochs at lr 3e-4 (results/fit-defaults-n10); digits' 1,500 images: the 100 epochs its defaults were chosen with.
AUTO_EPOCHS = {"epochs": (5_000, 20, 100), "feature_epochs": (9_000, 30, 100)}  # name -> (STEPS, LEAST, MOST)
# Small data (issue 47): MOST left a table of a few hundred rows about 100 steps (one a pass at batches of 200).
# The cap gives way where it would leave fewer than MIN_STEPS, and batch_size="auto" takes at most a BATCH_DIVISOR-th
# of the unlabeled rows (at least MIN_BATCH, at most BATCH), so that an epoch of a small table holds several steps
# (results/small-tables). A large set is unchanged: 55,000 images give 275 steps of 200 an epoch, 20 epochs.
MIN_STEPS, BATCH, MIN_BATCH, BATCH_DIVISOR = 1_000, 200, 16, 8
AUTO_NAMES = (*AUTO_EPOCHS, "batch_size")  # the estimator's parameters that may be "auto"


def auto_batch(n_unlabeled: int) -> int:
    """`batch_size="auto"`: `BATCH`, or a `BATCH_DIVISOR`-th of the unlabeled rows where that is smaller."""
    return min(BATCH, max(MIN_BATCH, n_unlabeled // BATCH_DIVISOR))


def capped_epochs(name: str, steps_per_epoch: int) -> int:
    """Epochs for about STEPS steps, within LEAST and MOST (the rule before issue 47)."""
    steps, least, most = AUTO_EPOCHS[name]
    return min(most, max(least, math.ceil(steps / max(steps_per_epoch, 1))))


def auto_epochs(name: str, steps_per_epoch: int) -> int:
    """`epochs="auto"`: enough epochs for the measured number of steps, within the measured bounds; the cap gives way
    where it would leave fewer than `MIN_STEPS` steps."""
    return max(capped_epochs(name, steps_per_epoch), math.ceil(MIN_STEPS / max(steps_per_epoch, 1)))


def steps_wanted(name: str, steps_per_epoch: int) -> int:
    """The optimizer steps the rule asks for these rows: `auto_epochs` times the steps of an epoch."""
    return auto_epochs(name, steps_per_epoch) * max(steps_per_epoch, 1)
