"""What every model provides so that one objective (eq. 1-9) serves them all, plus the shared layers.

A model only says how to compute the pieces of its bound for given classes; `ssvae.objectives` turns the
pieces into L(x,y), U(x), M(x) and J. Unlabeled batches are handled by exact enumeration of all K classes:
the model returns a [B, K] grid of per-class pieces, never a sampled y.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Bernoulli, ContinuousBernoulli, Distribution, Normal


@dataclass
class Bound:
    """Per-example pieces of the variational bound.

    log_qy: [B, K] log q(y|x) of the classifier (ADGM: q(y|a,x) at the very sample a used below).
    log_px: [B] (labeled) or [B, K] (every class): one-sample estimate of E_q log p(x|y,z).
    kl:     same shape: the continuous latents' KL to their priors (exact where closed form, else a
            one-sample estimate of log q - log p); KL warm-up scales this term only.
    """

    log_qy: Tensor
    log_px: Tensor
    kl: Tensor


def upcast(t: Tensor) -> Tensor:
    """Half-precision activations (from bf16 autocast) back to float32 before densities are summed."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


class SemiSupervisedVAE(nn.Module):
    """Interface of the generative semi-supervised models."""

    num_classes: int
    supervised_only = False

    def bound(self, x: Tensor, y: Tensor | None, gen: torch.Generator | None) -> Bound:
        """Bound pieces for labeled (y given, shape [B]) or unlabeled (y None: all K classes) x."""
        raise NotImplementedError

    def log_importance_weights(self, x: Tensor, gen: torch.Generator | None) -> Tensor:
        """[B, K]: log p(x, latents | y) - log q(latents | x, y) for one joint sample per class.

        Any latent that q draws before y (ADGM's a) must be shared across the K classes, so that
        logsumexp over classes and samples gives a valid importance-weighted bound on log p(x).
        """
        raise NotImplementedError

    def classifier_logits(self, x: Tensor, gen: torch.Generator | None = None) -> Tensor:
        raise NotImplementedError

    def predict_log_proba(self, x: Tensor, gen: torch.Generator | None = None) -> Tensor:
        return F.log_softmax(upcast(self.classifier_logits(x, gen)), dim=-1)

    def features(self, x: Tensor) -> Tensor:
        """The classifier's penultimate layer (what the paper's Fig. 4 t-SNE shows)."""
        raise NotImplementedError

    def latent_mean(self, x: Tensor) -> Tensor:
        """Mean of the continuous latent under q(z|x) = sum_y q(y|x) q(z|x,y): the estimator's `transform`."""
        raise NotImplementedError

    def reconstruct(self, x: Tensor, y: Tensor) -> Tensor:
        """Mean image of p(x|y,z) at the posterior mean of the latents."""
        raise NotImplementedError

    def sample(self, y: Tensor, gen: torch.Generator | None) -> Tensor:
        """Mean image of p(x|y,z) for z drawn from the prior."""
        raise NotImplementedError


# --------------------------------------------------------------------------------------------------------
# Shared layers


def mlp(sizes: list[int], final_activation: bool = True) -> nn.Sequential:
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
    """Diagonal Gaussian head with an unconstrained log-variance (no softplus floor on the variance)."""

    def __init__(self, hidden: int, dim: int):
        super().__init__()
        self.mu = nn.Linear(hidden, dim)
        self.logvar = nn.Linear(hidden, dim)

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor]:
        # float32 out even under bf16 autocast: densities and KLs are summed over many dimensions
        return upcast(self.mu(h)), upcast(self.logvar(h))


def standard_normal(shape: torch.Size | tuple[int, ...], gen: torch.Generator | None, like: Tensor) -> Tensor:
    """All model noise comes from here: from the generator passed down, or, for stacked runs, from the
    pre-drawn noise of a `NoiseTape` (ssvae.multirun) passed in the generator's place."""
    if hasattr(gen, "next"):
        return gen.next(shape)
    return torch.randn(shape, generator=gen, device=like.device, dtype=like.dtype)


def reparameterize(mu: Tensor, logvar: Tensor, gen: torch.Generator | None) -> Tensor:
    return mu + torch.exp(0.5 * logvar) * standard_normal(mu.shape, gen, mu)


def gaussian_log_prob(v: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(v; mu, diag(exp(logvar))), summed over the last axis."""
    return -0.5 * (((v - mu) ** 2) * torch.exp(-logvar) + logvar + math.log(2 * math.pi)).sum(-1)


def std_normal_log_prob(v: Tensor) -> Tensor:
    return -0.5 * (v**2 + math.log(2 * math.pi)).sum(-1)


def kl_gaussians(mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor, logvar_p: Tensor) -> Tensor:
    """KL(N(mu_q, exp(logvar_q)) || N(mu_p, exp(logvar_p))) in closed form, summed over the last axis."""
    return 0.5 * (logvar_p - logvar_q + (torch.exp(logvar_q) + (mu_q - mu_p) ** 2) * torch.exp(-logvar_p) - 1.0).sum(-1)


def kl_std_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) in closed form, summed over the last axis."""
    return 0.5 * (mu**2 + torch.exp(logvar) - 1.0 - logvar).sum(-1)


class Likelihood(nn.Module):
    """p(x|.) of the decoder's output `out` [..., D]; x broadcasts against it ([B, D] against [B, C, D])."""

    def __init__(self, dim: int):
        super().__init__()

    def distribution(self, out: Tensor) -> Distribution:
        raise NotImplementedError

    def log_prob(self, out: Tensor, x: Tensor) -> Tensor:
        """log p(x|.) summed over features."""
        if out.dim() == 3 and x.dim() == 2:
            x = x.unsqueeze(1)
        return self.distribution(upcast(out)).log_prob(x).sum(-1)

    def mean(self, out: Tensor) -> Tensor:
        return self.distribution(upcast(out)).mean


class BernoulliLogLik(torch.autograd.Function):
    """sum_d [x_d l_d - softplus(l_d)] = sum_d log Bernoulli(x_d; sigmoid(l_d)), with its gradient x - sigmoid(l).

    The same density as torch.distributions.Bernoulli(logits=l).log_prob(x).sum(-1), but on the CPU it is a
    sixth of the M2 step's time that way: this torch's log_sigmoid and log1p kernels are not vectorised (7-8 ms
    for [200, 10, 784] logits, against 0.7 ms for exp), and autograd keeps several full-size temporaries.
    Here softplus(l) = max(l, 0) + log(1 + exp(-|l|)) runs in place on two buffers, and the backward is one
    sigmoid (benchmarks/RESULTS.md, 'Cutting the CPU step'). log(1 + e) for e = exp(-|l|) <= 1 is within
    1e-7 of log1p(e), which is far below the float32 rounding of the 784-term sum.
    """

    generate_vmap_rule = True  # stacked runs (ssvae.multirun) vmap the step through this function

    @staticmethod
    def forward(logits: Tensor, x: Tensor) -> Tensor:
        if torch.compiler.is_compiling():  # inductor fuses the chain itself; in-place steps would only stop
            # its tracing (a compiled, vmapped step records them for autograd and refuses the in-place exp)
            return (x * logits - logits.clamp(min=0) - torch.log1p(torch.exp(-logits.abs()))).sum(-1)
        softplus = logits.abs().neg_().exp_().add_(1.0).log_().add_(logits.clamp(min=0))
        return softplus.sub_(logits * x).sum(-1).neg_()  # addcmul_ has no vmap batching rule

    @staticmethod
    def setup_context(ctx, inputs: tuple[Tensor, Tensor], output: Tensor) -> None:
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        logits, x = ctx.saved_tensors
        g = grad.unsqueeze(-1)
        grad_logits = None
        if ctx.needs_input_grad[0]:
            compiling = torch.compiler.is_compiling()
            grad_logits = (x - torch.sigmoid(logits)) * g if compiling else torch.sigmoid(logits).neg_().add_(x).mul_(g)
        grad_x = None
        if ctx.needs_input_grad[1]:  # x broadcast against the logits: sum the gradient back to x's shape
            full = logits * g
            dims = [i for i, (a, b) in enumerate(zip(x.shape, full.shape)) if a == 1 and b != 1]
            grad_x = full.sum(dims, keepdim=True) if dims else full
        return grad_logits, grad_x


class BernoulliLikelihood(Likelihood):
    """On [0, 1] intensities, from logits: the scale of the paper's NLL (about 248 nats on Fashion-MNIST)."""

    def distribution(self, out: Tensor) -> Distribution:
        return Bernoulli(logits=out, validate_args=False)

    def log_prob(self, out: Tensor, x: Tensor) -> Tensor:
        if out.dim() == 3 and x.dim() == 2:
            x = x.unsqueeze(1)
        out = upcast(out)
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
    return LIKELIHOODS[name](dim)


def init_parameters(module: nn.Module, gen: torch.Generator) -> None:
    """nn.Linear's default initialisation, drawn from an explicit generator (seeded, no global RNG)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=gen)
            bound = 1.0 / math.sqrt(m.weight.shape[1])
            nn.init.uniform_(m.bias, -bound, bound, generator=gen)


def all_classes(batch: int, num_classes: int, device: torch.device) -> Tensor:
    """[B, K] class indices for exact enumeration: one row expanded (stride 0), which JointInput exploits."""
    return torch.arange(num_classes, device=device).expand(batch, num_classes)
