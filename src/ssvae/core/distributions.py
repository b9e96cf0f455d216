"""Gaussian densities and KLs in closed form, and the one place model noise is drawn."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def standard_normal(shape: torch.Size | tuple[int, ...], gen: torch.Generator | None, like: Tensor) -> Tensor:
    """All model noise comes from here: from the generator passed down, or, for stacked runs, from the
    pre-drawn noise of a `NoiseTape` (below) passed in the generator's place."""
    if hasattr(gen, "next"):
        return gen.next(shape)
    return torch.randn(shape, generator=gen, device=like.device, dtype=like.dtype)


class NoiseTape:
    """Pre-drawn standard-normal noise, handed out in the order the model asks: what stacked runs pass in a
    generator's place (`ssvae.training.stacked`), each run's noise drawn beforehand from its own generator."""

    def __init__(self, tensors: list[Tensor]):
        self.tensors, self.i = tensors, 0

    def next(self, shape) -> Tensor:
        t = self.tensors[self.i]
        if tuple(t.shape) != tuple(shape):
            raise RuntimeError(f"noise tape out of step: model asked for {tuple(shape)}, tape holds {tuple(t.shape)}")
        self.i += 1
        return t


class NoiseRecorder:
    """Stands in for a generator in a dry pass: records the shapes of the noise asked for (`shapes`, in order) and
    hands out zeros, so that a `NoiseTape` of those shapes can be drawn beforehand."""

    def __init__(self, like: Tensor):
        self.like, self.shapes = like, []

    def next(self, shape) -> Tensor:
        self.shapes.append(tuple(shape))
        return torch.zeros(shape, device=self.like.device)


def reparameterize(mu: Tensor, logvar: Tensor, gen: torch.Generator | None) -> Tensor:
    """A draw of N(mu, exp(logvar)) as mu + sigma * eps, eps from `gen`: differentiable in mu and logvar."""
    return mu + torch.exp(0.5 * logvar) * standard_normal(mu.shape, gen, mu)


def gaussian_log_prob(v: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(v; mu, diag(exp(logvar))), summed over the last axis."""
    return -0.5 * (((v - mu) ** 2) * torch.exp(-logvar) + logvar + math.log(2 * math.pi)).sum(-1)


def std_normal_log_prob(v: Tensor) -> Tensor:
    """log N(v; 0, I), summed over the last dimension."""
    return -0.5 * (v**2 + math.log(2 * math.pi)).sum(-1)


def kl_gaussians(mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor, logvar_p: Tensor) -> Tensor:
    """KL(N(mu_q, exp(logvar_q)) || N(mu_p, exp(logvar_p))) in closed form, summed over the last axis."""
    return 0.5 * (logvar_p - logvar_q + (torch.exp(logvar_q) + (mu_q - mu_p) ** 2) * torch.exp(-logvar_p) - 1.0).sum(-1)


def kl_std_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) in closed form, summed over the last axis."""
    return 0.5 * (mu**2 + torch.exp(logvar) - 1.0 - logvar).sum(-1)
