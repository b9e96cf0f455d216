"""`--ema`: an exponential moving average of a run's weights (Polyak averaging), the weights a run evaluates.

A small labeled set makes the last step's weights noisy from epoch to epoch; their running average is a cheap,
common remedy. The average changes nothing in training (the optimizer never sees it, no random number is drawn
for it), so a run with `--ema` trains exactly the weights the same run without it trains, and the two differ only
in which weights are validated, kept and exported: a paired comparison by construction.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import get_ema_multi_avg_fn


class WeightAverage:
    """avg_0 = the weights at the start, avg_t = ema * avg_(t-1) + (1 - ema) * w_t after each step t (PyTorch's
    `get_ema_multi_avg_fn`, as `AveragedModel` applies it), updated in place on the device (a captured step holds
    it). Only parameters are averaged: the models' buffers are constant (a feature stage's frozen weights)."""

    def __init__(self, model: nn.Module, decay: float):
        self.params = list(model.parameters())
        self.tensors = [p.detach().clone() for p in self.params]
        self._update = get_ema_multi_avg_fn(decay)

    def update(self) -> None:
        """After an optimizer step."""
        self._update(self.tensors, [p.detach() for p in self.params], None)

    def restart(self) -> None:
        """Begin again from the weights as they are (a warm start continues another fit's weights)."""
        with torch.no_grad():
            torch._foreach_copy_(self.tensors, [p.detach() for p in self.params])

    @contextmanager
    def swapped_in(self) -> Iterator[None]:
        """The model holds the average inside the block and its own weights again after it (copied in place, so
        that the optimizer and a captured step keep the same tensors)."""
        own = [p.detach().clone() for p in self.params]
        with torch.no_grad():
            torch._foreach_copy_([p.detach() for p in self.params], self.tensors)
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_([p.detach() for p in self.params], own)

    def state_dict(self) -> list[Tensor]:
        return self.tensors

    def load_state_dict(self, tensors: list[Tensor]) -> None:
        if len(tensors) != len(self.tensors):
            raise ValueError(f"{len(tensors)} averaged tensors for {len(self.tensors)} parameters")
        with torch.no_grad():
            torch._foreach_copy_(self.tensors, [t.to(p.device) for t, p in zip(tensors, self.tensors)])


@contextmanager
def evaluated_weights(average: WeightAverage | None) -> Iterator[None]:
    """The weights a run evaluates: the average with `--ema`, else the model's own."""
    if average is None:
        yield
    else:
        with average.swapped_in():
            yield
