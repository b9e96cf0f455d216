"""Which epoch's model is kept (`--select`), and the guard that warns when predictions collapse."""

from __future__ import annotations

from typing import Callable

import torch

from ..data import Split, labeled_validation
from ..errors import SSVAEError, warn
from ..measures.metrics import elbo
from .contracts import Selected


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


def val_accuracy(run: Selected, watched: dict[str, float]) -> float:
    """`--select accuracy`: the epoch's validation accuracy."""
    return watched["val_accuracy"]


def val_elbo(run: Selected, watched: dict[str, float]) -> float:
    """`--select val-elbo`: the mean ELBO of the held-out unlabeled rows."""
    return float(elbo(run.model, run.data.x_val, seed=run.cfg.seed).mean())


# How the kept ("best") model is chosen: name -> score of the current epoch from the run and the numbers its
# evaluation read back (`validation.WATCHED`); the highest score is kept.
SELECTIONS: dict[str, Callable[[Selected, dict[str, float]], float]] = {
    "val-accuracy": val_accuracy,  # labeled validation examples
    "val-elbo": val_elbo,  # eq. 2 on held-out examples, labels not needed (its own pass, one run at a time)
    "last": lambda run, watched: float(run.epoch),  # no validation: keep the last epoch
}


def resolve_select(select: str, split: Split, y_train) -> str:
    """'auto': accuracy on labeled validation examples when there are any, else the last epoch."""
    if select == "auto":
        return "val-accuracy" if labeled_validation(y_train[split.validation]) else "last"
    if select != "last" and len(split.validation) == 0:
        raise SSVAEError(f"--select {select} needs validation examples; give --val-size or use --select last")
    if select == "val-accuracy" and (y_train[split.validation] < 0).any():
        raise SSVAEError("--select val-accuracy needs labeled validation examples; use --select val-elbo")
    return select
