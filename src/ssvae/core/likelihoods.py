"""Decoder likelihoods p(x|.) and their registry (`--likelihood`)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.distributions import Bernoulli, ContinuousBernoulli, Distribution, Normal

from .fused import BernoulliLogLik
from .interface import upcast


class Likelihood(nn.Module):
    """p(x|.) of the decoder's output `out` [..., D]; x broadcasts against it ([B, D] against [B, C, D])."""

    def __init__(self, dim: int):
        super().__init__()

    def distribution(self, out: Tensor) -> Distribution:
        raise NotImplementedError

    def log_prob(self, out: Tensor, x: Tensor) -> Tensor:
        """log p(x|.) summed over features."""
        out, x = self.aligned(out, x)
        return self.distribution(out).log_prob(x).sum(-1)

    @staticmethod
    def aligned(out: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        """The decoder output in float32 and x shaped to broadcast against it ([B, D] against [B, C, D])."""
        out = upcast(out)
        if out.dim() == 3 and x.dim() == 2:
            x = x.unsqueeze(1)
        return out, x

    def mean(self, out: Tensor) -> Tensor:
        return self.distribution(upcast(out)).mean


class BernoulliLikelihood(Likelihood):
    """On [0, 1] intensities, from logits: the scale of the paper's NLL (about 248 nats on Fashion-MNIST)."""

    def distribution(self, out: Tensor) -> Distribution:
        return Bernoulli(logits=out, validate_args=False)

    def log_prob(self, out: Tensor, x: Tensor) -> Tensor:
        out, x = self.aligned(out, x)
        return BernoulliLogLik.apply(out, x.to(out.dtype))


class ContinuousBernoulliLikelihood(Likelihood):
    """The normalised density for [0, 1] data (Loaiza-Ganem and Cunningham, 2019)."""

    def distribution(self, out: Tensor) -> Distribution:
        return ContinuousBernoulli(logits=out, validate_args=False)


class GaussianLikelihood(Likelihood):
    """For real-valued (standardised) features: N(x; out, sigma^2) with one learned sigma per feature.

    log sigma is floored at log 0.01 (a hundredth of a standard deviation): a feature that is constant, or a
    copy of another, would otherwise let its variance shrink to zero and the density grow without bound."""

    MIN_LOG_SCALE = math.log(0.01)

    def __init__(self, dim: int):
        super().__init__(dim)
        self.log_scale = nn.Parameter(torch.zeros(dim))

    def distribution(self, out: Tensor) -> Distribution:
        return Normal(out, self.log_scale.clamp(min=self.MIN_LOG_SCALE).exp(), validate_args=False)


LIKELIHOODS: dict[str, type[Likelihood]] = {
    "bernoulli": BernoulliLikelihood,
    "continuous-bernoulli": ContinuousBernoulliLikelihood,
    "gaussian": GaussianLikelihood,
}


def make_likelihood(name: str, dim: int) -> Likelihood:
    """The registered likelihood of this name for inputs of `dim` features."""
    return LIKELIHOODS[name](dim)
