"""Settings chosen from the data when the user leaves them to us ("auto"): how many epochs a fit trains, how
many optimizer steps that makes (what a fit with fewer is told), and how many classes its unlabeled rows enumerate.

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

# feature_epochs="auto" where labels are scarcest and the graph teaches: with fewer than 5 labels per class on
# average, the graph's stage trains twice the steps (and twice LEAST's epochs). Measured on the taught M2
# (Fashion-MNIST, Calder et al.'s stage 60 epochs against 30, results/teacher-levers): on validation, last epoch,
# +1.32 and +1.84 points at 1 label per class, +0.28 and +1.90 at 10 (seeds 0-1); it costs about 80 s of a
# 60,000-image fit (results/fit-time), which the 10-labels-per-class default does not spend (issue 45's 3x).
SCARCE_STAGE = (5, 2)  # (fewer labels per class than this, times the stage's steps)

# Small data (issue 47, results/small-tables): where MOST would leave the model fewer than LEAST_STEPS optimizer
# steps, the cap is lifted to make them, in batches of an eighth of the unlabeled rows (at least 16, at most 200:
# batch_size="auto"). Chosen on scikit-learn's bundled tables at 5-20% labels, 60 validation splits: +0.42
# [-0.44, 1.29] points against MOST's 100 epochs at batches of 200 (which made about 100 steps on a few hundred
# rows); 1,000 steps at batches of 200 lost 3.54, at a quarter of the rows 0.48. From 1,600 unlabeled rows on the
# batch is 200 and from 2,000 on MOST's epochs make 1,000 steps, so larger sets train as before.
LEAST_STEPS = 1_000
AUTO_BATCH = (16, 8, 200)  # (LEAST, the DIVISOR of the rows an epoch passes over, MOST)

# enumerate_top="auto": the unlabeled bound over the 2 classes of largest q(y|x) where a data set has at least 10
# classes, else every class. Measured (issue 45, results/enumerate-top) on validation, 3 paired seeds, last epoch,
# at 10 classes: Fashion-MNIST's default fit at 10 labels per class and M2 on its pixels at 100, and digits with M2,
# ADGM and the Ladder VAE; with fewer classes it was not measured, so they keep the paper's full enumeration.
AUTO_ENUMERATE_TOP = (2, 10)  # (k, the fewest classes it applies to)


def auto_epochs(name: str, steps_per_epoch: int, scale: int = 1) -> int:
    """`epochs="auto"`: enough epochs for the measured number of steps, within the measured bounds; the model's
    (stage 2) at least `LEAST_STEPS` steps whatever the cap; `scale`: times the steps and the least epochs
    (`stage_scale`)."""
    steps, least, most = AUTO_EPOCHS[name]
    spe = max(steps_per_epoch, 1)
    epochs = min(most, max(scale * least, math.ceil(scale * steps / spe)))
    return max(epochs, math.ceil(LEAST_STEPS / spe)) if name == "epochs" else epochs


def stage_scale(labels_per_class: float, taught: bool) -> int:
    """How many times its measured steps an "auto" feature stage trains: `SCARCE_STAGE`'s factor for the graph's
    stage (`taught`: the run has a teacher) below its labels per class, else 1."""
    fewer_than, times = SCARCE_STAGE
    return times if taught and labels_per_class < fewer_than else 1


def auto_batch(rows: int) -> int:
    """`batch_size="auto"`: an eighth of the rows an epoch passes over (the unlabeled ones), within `AUTO_BATCH`."""
    least, divisor, most = AUTO_BATCH
    return min(most, max(least, rows // divisor))


def too_few_steps(epochs: int, steps_per_epoch: int) -> tuple[int, int] | None:
    """(steps made, steps the rule gives these rows) when `epochs` of stage 2 make fewer than `epochs="auto"`
    would, else None: what a verbose fit's first line and its ConvergenceWarning say."""
    made, wanted = epochs * steps_per_epoch, auto_epochs("epochs", steps_per_epoch) * max(steps_per_epoch, 1)
    return (made, wanted) if made < wanted else None


def auto_enumerate_top(num_classes: int) -> int:
    """enumerate_top="auto": `AUTO_ENUMERATE_TOP`'s k for data with at least its number of classes, else 0 (all)."""
    top, fewest = AUTO_ENUMERATE_TOP
    return top if num_classes >= fewest else 0
