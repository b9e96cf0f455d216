"""The layers the models share: MLPs, the joint (inputs, class) layer, the Gaussian head, seeded inits."""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .interface import upcast


def mlp(sizes: list[int], final_activation: bool = True) -> nn.Sequential:
    """Linear layers of these sizes with ReLU between them (and after the last, unless told not to)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if final_activation or i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class JointInput(nn.Module):
    """A Linear layer on [v_1, ..., v_n, onehot(y)] that evaluates each part at its own batch shape.

    Same parameters and initialisation as nn.Linear(sum(dims) + K, out). Parts that do not depend on the
    class (x, ADGM's a) are passed as [B, d] and multiplied once; parts drawn per class are [B, C, d];
    the one-hot product is a column lookup. Enumerating K classes then costs one [B, D] product for x
    instead of K of them.
    """

    def __init__(self, dims: Sequence[int], num_classes: int, out: int):
        super().__init__()
        self.dims = list(dims)
        self.linear = nn.Linear(sum(self.dims) + num_classes, out)

    def forward(self, *parts: Tensor, classes: Tensor) -> Tensor:
        """parts: [B, d_i] or [B, C, d_i]; classes: [B, C] long -> [B, C, out]."""
        w = self.linear.weight
        if classes.dim() == 2 and classes.stride(0) == 0:
            # every row the same classes (the enumeration, all_classes): one row's product, broadcast over
            # the batch, and its gradient a sum over the batch, instead of [B*C, K] x [K, out] products
            classes = classes[:1]
        # one-hot product rather than an index: its backward is a plain matmul, deterministic on CPU,
        # where the backward of indexing (index_put with accumulate) is not
        h = F.one_hot(classes, w.shape[1] - sum(self.dims)).to(w.dtype) @ w[:, sum(self.dims) :].t()
        start = 0
        for i, (v, d) in enumerate(zip(parts, self.dims)):
            # the bias rides in a product, so that under bf16 autocast every piece, and h, stay bf16 (a float32
            # bias added on its own would promote the [B, C, out] activations to float32 and back: copies)
            hv = F.linear(v, w[:, start : start + d], self.linear.bias if i == 0 else None)
            h = h + (hv.unsqueeze(1) if hv.dim() == 2 else hv)
            start += d
        return h if self.dims else h + self.linear.bias


class Gaussian(nn.Module):
    """Diagonal Gaussian head. By default its log-variance is unconstrained (the paper's models); with
    `min_logvar` = c it is c + softplus(raw), so the variance never falls below e^c (c = 0: the widely used PyTorch
    implementation's softplus, variance >= 1), a bottleneck on how much a z can say about one x."""

    def __init__(self, hidden: int, dim: int, min_logvar: float | None = None):
        super().__init__()
        self.mu = nn.Linear(hidden, dim)
        self.logvar = nn.Linear(hidden, dim)
        self.min_logvar = min_logvar

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor]:
        # float32 out even under bf16 autocast: densities and KLs are summed over many dimensions
        logvar = upcast(self.logvar(h))
        if self.min_logvar is not None:
            logvar = self.min_logvar + F.softplus(logvar)
        return upcast(self.mu(h)), logvar


def pytorch_init(m: nn.Linear, gen: torch.Generator) -> None:
    """nn.Linear's own initialisation (the paper's models, as PyTorch builds them)."""
    nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=gen)
    bound = 1.0 / math.sqrt(m.weight.shape[1])
    nn.init.uniform_(m.bias, -bound, bound, generator=gen)


def xavier_init(m: nn.Linear, gen: torch.Generator) -> None:
    """Xavier-normal weights, zero biases: the widely used PyTorch M2/ADGM implementation's."""
    nn.init.xavier_normal_(m.weight, generator=gen)
    nn.init.zeros_(m.bias)


# name -> how one nn.Linear is initialised (model option `init`)
INITS: dict[str, Callable[[nn.Linear, torch.Generator], None]] = {"pytorch": pytorch_init, "xavier": xavier_init}


def init_parameters(module: nn.Module, gen: torch.Generator, scheme: str = "pytorch") -> None:
    """Every nn.Linear initialised by `INITS[scheme]`, drawn from an explicit generator (seeded, no global RNG)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            INITS[scheme](m, gen)
