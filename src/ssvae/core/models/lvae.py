"""Semi-supervised Ladder VAE (Sønderby et al. 2016) with the paper's settings: z of 32, 16, 8; hidden 128.

Bottom-up: d_i = f_i(d_{i-1}) from x, each giving a Gaussian estimate (mu_hat_i, var_hat_i); y joins the top
rung, d_3 = f_3(d_2, y), which gives q(z_3|x,y). Top-down: z_3 ~ q(z_3|x,y); for i = 2, 1 the prior
p(z_i|z_{i+1}) (y enters the generative path at the top, in p(z_2|z_3,y)) is merged with the bottom-up
estimate by precision weighting (section 2.2), z_i is drawn from that posterior, and x is decoded from the
posterior z_1 (never from prior samples).
No batch normalisation: the K-fold tiled unlabeled batch would skew its statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..distributions import (
    gaussian_log_prob,
    kl_gaussians,
    kl_std_normal,
    reparameterize,
    standard_normal,
    std_normal_log_prob,
)
from ..interface import Bound, ModelConfig, SemiSupervisedVAE, all_classes, enumerated_classes
from ..layers import Gaussian, JointInput, mlp
from ..likelihoods import make_likelihood


@dataclass
class LVAEConfig(ModelConfig):
    latent_dims: tuple[int, ...] = (32, 16, 8)  # bottom to top
    hidden: int = 128
    classifier_hidden: int = 128
    likelihood: str = "bernoulli"


def precision_weighted(mu_hat: Tensor, lv_hat: Tensor, mu_p: Tensor, lv_p: Tensor) -> tuple[Tensor, Tensor]:
    """Ladder-VAE eq. 18-19: var_q = 1 / (1/var_hat + 1/var_p), mu_q = var_q (mu_hat/var_hat + mu_p/var_p)."""
    lv_q = -torch.logaddexp(-lv_hat, -lv_p)
    mu_q = (mu_hat * torch.exp(lv_q - lv_hat)) + (mu_p * torch.exp(lv_q - lv_p))
    return mu_q, lv_q


class LVAE(SemiSupervisedVAE):
    """The Ladder-VAE based model: a hierarchy of latents, y joining at the top (Sonderby et al. 2016)."""

    def __init__(self, input_dim: int, num_classes: int, cfg: LVAEConfig):
        super().__init__()
        self.cfg, self.num_classes = cfg, num_classes
        dims, h, k = list(cfg.latent_dims), cfg.hidden, num_classes
        if len(dims) < 2:
            raise ValueError("the ladder needs at least two latent layers")
        self.classifier = mlp([input_dim, cfg.classifier_hidden])
        self.classifier_out = nn.Linear(cfg.classifier_hidden, k)
        # bottom-up deterministic path and its Gaussian estimates for layers 1..L-1
        # (one hidden layer per rung: L in each direction; y joins the top rung)
        self.up = nn.ModuleList(mlp([input_dim if i == 0 else h, h]) for i in range(len(dims) - 1))
        self.up_heads = nn.ModuleList(Gaussian(h, dz) for dz in dims[:-1])
        self.top_in = JointInput([input_dim if len(dims) == 1 else h], k, h)  # d_L = f_L(d_{L-1}, y)
        self.top_head = nn.Sequential(nn.ReLU(), Gaussian(h, dims[-1]))
        # top-down priors p(z_i | z_{i+1}) for i = L-1..1; y joins at the top one
        self.down_top_in = JointInput([dims[-1]], k, h)
        self.down_top = nn.Sequential(nn.ReLU(), Gaussian(h, dims[-2]))
        self.down = nn.ModuleList(
            nn.Sequential(nn.Linear(dims[i + 1], h), nn.ReLU(), Gaussian(h, dims[i])) for i in range(len(dims) - 2)
        )
        self.p_x = nn.Sequential(nn.Linear(dims[0], h), nn.ReLU(), nn.Linear(h, input_dim))
        self.lik = make_likelihood(cfg.likelihood, input_dim)

    def features(self, x: Tensor) -> Tensor:
        return self.classifier(x)

    def classifier_logits(self, x: Tensor, gen: torch.Generator | None = None) -> Tensor:
        return self.classifier_out(self.classifier(x))

    def _prior(self, i: int, z_above: Tensor, classes: Tensor) -> tuple[Tensor, Tensor]:
        """p(z_i | z_{i+1}) (with y at the top), 0-based i counted from the bottom."""
        if i == len(self.cfg.latent_dims) - 2:
            return self.down_top(self.down_top_in(z_above, classes=classes))
        return self.down[i](z_above)

    def _ladder(self, x: Tensor, classes: Tensor, gen: torch.Generator | None, sample: bool = True):
        """Top-down pass for classes [B, C]; returns z_1 and, per layer, (z, mu_q, lv_q, mu_p, lv_p)."""
        d = x
        estimates = []
        for f, head in zip(self.up, self.up_heads):  # below the top it does not depend on y: once per x
            d = f(d)
            estimates.append(head(d))
        mu, lv = self.top_head(self.top_in(d, classes=classes))
        z = reparameterize(mu, lv, gen) if sample else mu
        layers = [(z, mu, lv, None, None)]
        for i in reversed(range(len(estimates))):
            mu_p, lv_p = self._prior(i, z, classes)
            mu_hat, lv_hat = (t.unsqueeze(1) for t in estimates[i])
            mu, lv = precision_weighted(mu_hat, lv_hat, mu_p, lv_p)
            z = reparameterize(mu, lv, gen) if sample else mu
            layers.append((z, mu, lv, mu_p, lv_p))
        return z, layers

    def bound(self, x: Tensor, y: Tensor | None, gen: torch.Generator | None, top: int = 0) -> Bound:
        log_qy = self.predict_log_proba(x)
        classes, kept = enumerated_classes(log_qy, y, top)
        z1, layers = self._ladder(x, classes, gen)
        log_px = self.lik.log_prob(self.p_x(z1), x)
        _, mu, lv, _, _ = layers[0]
        kl = kl_std_normal(mu, lv)  # top layer against N(0, I)
        for _, mu, lv, mu_p, lv_p in layers[1:]:  # each lower layer against its top-down prior
            kl = kl + kl_gaussians(mu, lv, mu_p, lv_p)
        if y is not None:
            log_px, kl = log_px.squeeze(1), kl.squeeze(1)
        return Bound(log_qy, log_px, kl, kept)

    def latent_mean(self, x: Tensor) -> Tensor:
        """The bottom latent z_1 (the largest), from the top-down pass at posterior means, mixed over q(y|x)."""
        z1, _ = self._ladder(x, all_classes(len(x), self.num_classes, x.device), None, sample=False)
        return (self.predict_log_proba(x).exp().unsqueeze(-1) * z1).sum(1)

    def log_importance_weights(self, x: Tensor, gen: torch.Generator | None) -> Tensor:
        z1, layers = self._ladder(x, all_classes(len(x), self.num_classes, x.device), gen)
        z, mu, lv, _, _ = layers[0]
        log_w = self.lik.log_prob(self.p_x(z1), x) + std_normal_log_prob(z) - gaussian_log_prob(z, mu, lv)
        for z, mu, lv, mu_p, lv_p in layers[1:]:
            log_w = log_w + gaussian_log_prob(z, mu_p, lv_p) - gaussian_log_prob(z, mu, lv)
        return log_w

    def reconstruct(self, x: Tensor, y: Tensor) -> Tensor:
        z1, _ = self._ladder(x, y.unsqueeze(1), None, sample=False)
        return self.lik.mean(self.p_x(z1)).squeeze(1)

    def sample(self, y: Tensor, gen: torch.Generator | None) -> Tensor:
        classes = y.unsqueeze(1)
        z = standard_normal((len(y), 1, self.cfg.latent_dims[-1]), gen, self.p_x[0].weight)
        for i in reversed(range(len(self.cfg.latent_dims) - 1)):
            z = reparameterize(*self._prior(i, z, classes), gen)
        return self.lik.mean(self.p_x(z)).squeeze(1)
