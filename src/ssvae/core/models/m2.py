"""Kingma et al.'s M2 with the paper's section 5.2 settings: z = 50, two hidden layers of 600, classifier 600."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..distributions import gaussian_log_prob, kl_std_normal, reparameterize, standard_normal, std_normal_log_prob
from ..interface import Bound, ModelConfig, SemiSupervisedVAE, all_classes, enumerated_classes
from ..layers import Gaussian, JointInput, mlp
from ..likelihoods import make_likelihood


@dataclass
class M2Config(ModelConfig):
    z_dim: int = 50
    hidden: int = 600
    classifier_hidden: int = 600
    likelihood: str = "bernoulli"
    min_logvar: float | None = None  # floor on q(z|x,y)'s log-variance (layers.Gaussian); None: unconstrained


class M2(SemiSupervisedVAE):
    """q(y|x), q(z|x,y), p(z) = N(0,I), p(y) uniform, p(x|y,z)."""

    def __init__(self, input_dim: int, num_classes: int, cfg: M2Config):
        super().__init__()
        self.cfg, self.num_classes = cfg, num_classes
        h = cfg.hidden
        self.classifier = mlp([input_dim, cfg.classifier_hidden])
        self.classifier_out = nn.Linear(cfg.classifier_hidden, num_classes)
        self.enc_in = JointInput([input_dim], num_classes, h)
        self.enc = nn.Sequential(nn.ReLU(), nn.Linear(h, h), nn.ReLU())
        self.q_z = Gaussian(h, cfg.z_dim, cfg.min_logvar)
        self.dec_in = JointInput([cfg.z_dim], num_classes, h)
        self.dec = nn.Sequential(nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, input_dim))
        self.lik = make_likelihood(cfg.likelihood, input_dim)

    # q(y|x)
    def features(self, x: Tensor) -> Tensor:
        return self.classifier(x)

    def classifier_logits(self, x: Tensor, gen: torch.Generator | None = None) -> Tensor:
        return self.classifier_out(self.classifier(x))

    # q(z|x,y) and p(x|y,z), for classes [B, C]
    def encode(self, x: Tensor, classes: Tensor) -> tuple[Tensor, Tensor]:
        return self.q_z(self.enc(self.enc_in(x, classes=classes)))

    def decode_logits(self, z: Tensor, classes: Tensor) -> Tensor:
        return self.dec(self.dec_in(z, classes=classes))

    def _per_class(self, x: Tensor, classes: Tensor, gen: torch.Generator | None) -> tuple[Tensor, Tensor]:
        mu, logvar = self.encode(x, classes)
        z = reparameterize(mu, logvar, gen)
        log_px = self.lik.log_prob(self.decode_logits(z, classes), x)
        return log_px, kl_std_normal(mu, logvar)

    def bound(self, x: Tensor, y: Tensor | None, gen: torch.Generator | None, top: int = 0) -> Bound:
        log_qy = self.predict_log_proba(x)
        classes, kept = enumerated_classes(log_qy, y, top)
        log_px, kl = self._per_class(x, classes, gen)
        if y is not None:
            log_px, kl = log_px.squeeze(1), kl.squeeze(1)
        return Bound(log_qy, log_px, kl, kept)

    def log_importance_weights(self, x: Tensor, gen: torch.Generator | None) -> Tensor:
        classes = all_classes(len(x), self.num_classes, x.device)
        mu, logvar = self.encode(x, classes)
        z = reparameterize(mu, logvar, gen)
        log_px = self.lik.log_prob(self.decode_logits(z, classes), x)
        return log_px + std_normal_log_prob(z) - gaussian_log_prob(z, mu, logvar)

    def latent_mean(self, x: Tensor) -> Tensor:
        mu, _ = self.encode(x, all_classes(len(x), self.num_classes, x.device))
        return (self.predict_log_proba(x).exp().unsqueeze(-1) * mu).sum(1)

    def reconstruct(self, x: Tensor, y: Tensor) -> Tensor:
        mu, _ = self.encode(x, y.unsqueeze(1))
        return self.lik.mean(self.decode_logits(mu, y.unsqueeze(1))).squeeze(1)

    def sample(self, y: Tensor, gen: torch.Generator | None) -> Tensor:
        z = standard_normal((len(y), 1, self.cfg.z_dim), gen, self.q_z.mu.weight)
        return self.lik.mean(self.decode_logits(z, y.unsqueeze(1))).squeeze(1)
