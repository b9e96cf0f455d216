"""What an evaluation reads back from the device, as one vector per run, so that the host waits once per
evaluation (issue 22, item 4): validation's accuracy, mean entropy and I(y;x) (eq. 8 on the validation set), the
learning rate, and the step statistics' sums. A stacked group stacks its runs' vectors and reads them together.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..core.objectives import entropy, mutual_information

# the first entries of a run's vector, in order; the step statistics' sums follow, in the order of the run's sums
WATCHED = ("val_accuracy", "val_entropy", "val_mi", "lr")


def watched_numbers(log_q: Tensor, y: Tensor, lr: float | Tensor, sums: list[Tensor]) -> Tensor:
    """The float64 vector `WATCHED` + sums, on the device. Each number is the float32 value the host used to read
    (`float(...)`), widened, so the logged numbers are what they were."""
    one = [
        100.0 * (log_q.argmax(-1) == y).float().mean().double(),
        entropy(log_q).mean().double(),
        mutual_information(log_q).double(),
        torch.as_tensor(lr, dtype=torch.float64, device=log_q.device),
    ]
    return torch.stack([*one, *(s.double() for s in sums)])


def split_watched(values: list[float]) -> tuple[dict[str, float], list[float]]:
    """A vector read back: the named numbers, and the sums."""
    return dict(zip(WATCHED, values)), values[len(WATCHED) :]
