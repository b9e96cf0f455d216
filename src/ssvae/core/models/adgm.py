"""Auxiliary Deep Generative Model (Maaløe et al. 2016) with the paper's settings: a = z = 100, hidden 500.

Inference q(a|x) q(y|a,x) q(z|a,y,x); generative p(z) p(y) p(x|y,z) p(a|x,y,z).
For an unlabeled x ONE a ~ q(a|x) is drawn and shared by the classifier and by all K enumerated
classes: the bound E_q(a|x)[sum_y q(y|a,x) (...) + H(q(y|a,x))] needs y's distribution and the
per-class terms at the same a. (Drawing a fresh a per class, as a popular implementation does,
estimates something else.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..distributions import gaussian_log_prob, kl_std_normal, reparameterize, standard_normal, std_normal_log_prob
from ..interface import Bound, ModelConfig, SemiSupervisedVAE, all_classes, enumerated_classes, upcast
from ..layers import Gaussian, JointInput
from ..likelihoods import make_likelihood


@dataclass
class ADGMConfig(ModelConfig):
    a_dim: int = 100
    z_dim: int = 100
    hidden: int = 500
    classifier_hidden: int = 500
    likelihood: str = "bernoulli"
    predict_samples: int = 10  # q(y|x) = mean over this many a ~ q(a|x) at prediction time


class ADGM(SemiSupervisedVAE):
    """The Auxiliary Deep Generative Model (Maaloe et al. 2016): an auxiliary a beside z, q(y|a,x)."""

    def __init__(self, input_dim: int, num_classes: int, cfg: ADGMConfig):
        super().__init__()
        self.cfg, self.num_classes = cfg, num_classes
        d, h, k = input_dim, cfg.hidden, num_classes
        self.q_a = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), Gaussian(h, cfg.a_dim))
        self.cls_hidden = nn.Sequential(nn.Linear(d + cfg.a_dim, cfg.classifier_hidden), nn.ReLU())
        self.cls_out = nn.Linear(cfg.classifier_hidden, k)
        self.qz_in = JointInput([d, cfg.a_dim], k, h)
        self.q_z = nn.Sequential(nn.ReLU(), nn.Linear(h, h), nn.ReLU(), Gaussian(h, cfg.z_dim))
        self.px_in = JointInput([cfg.z_dim], k, h)
        self.p_x = nn.Sequential(nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, d))
        self.pa_in = JointInput([d, cfg.z_dim], k, h)
        self.p_a = nn.Sequential(nn.ReLU(), nn.Linear(h, h), nn.ReLU(), Gaussian(h, cfg.a_dim))
        self.lik = make_likelihood(cfg.likelihood, input_dim)

    # q(y|a,x)
    def _logits(self, x: Tensor, a: Tensor) -> Tensor:
        return self.cls_out(self.cls_hidden(torch.cat([x, a], -1)))

    def classifier_logits(self, x: Tensor, gen: torch.Generator | None = None) -> Tensor:
        """Logits of q(y|x) = E_q(a|x) q(y|a,x), averaged over `predict_samples` draws of a."""
        mu, logvar = self.q_a(x)
        s = self.cfg.predict_samples
        a = reparameterize(mu.expand(s, *mu.shape), logvar.expand(s, *logvar.shape), gen)
        log_q = torch.log_softmax(upcast(self._logits(x.expand(s, *x.shape), a)), -1)
        return torch.logsumexp(log_q, 0) - math.log(s)

    def features(self, x: Tensor) -> Tensor:
        return self.cls_hidden(torch.cat([x, self.q_a(x)[0]], -1))

    def _per_class(self, x: Tensor, a: Tensor, classes: Tensor, gen: torch.Generator | None):
        """One z per class given the shared a: (log p(x|y,z), z, mu_z, logvar_z, log p(a|x,y,z))."""
        mu_z, lv_z = self.q_z(self.qz_in(x, a, classes=classes))
        z = reparameterize(mu_z, lv_z, gen)
        log_px = self.lik.log_prob(self.p_x(self.px_in(z, classes=classes)), x)
        mu_pa, lv_pa = self.p_a(self.pa_in(x, z, classes=classes))
        return log_px, z, mu_z, lv_z, gaussian_log_prob(a.unsqueeze(1), mu_pa, lv_pa)

    def bound(self, x: Tensor, y: Tensor | None, gen: torch.Generator | None, top: int = 0) -> Bound:
        mu_a, lv_a = self.q_a(x)
        a = reparameterize(mu_a, lv_a, gen)  # the one a shared by q(y|a,x) and every class below
        log_qy = torch.log_softmax(upcast(self._logits(x, a)), -1)
        classes, kept = enumerated_classes(log_qy, y, top)  # chosen by q(y|a,x) at that same a
        log_px, _, mu_z, lv_z, log_pa = self._per_class(x, a, classes, gen)
        log_qa = gaussian_log_prob(a, mu_a, lv_a).unsqueeze(1)
        kl = kl_std_normal(mu_z, lv_z) + log_qa - log_pa  # z exact given a; a by its one sample
        if y is not None:
            log_px, kl = log_px.squeeze(1), kl.squeeze(1)
        return Bound(log_qy, log_px, kl, kept)

    def latent_mean(self, x: Tensor) -> Tensor:
        """z's mean at a = the mean of q(a|x), mixed over q(y|a,x)."""
        a = self.q_a(x)[0]
        mu_z, _ = self.q_z(self.qz_in(x, a, classes=all_classes(len(x), self.num_classes, x.device)))
        q = torch.softmax(upcast(self._logits(x, a)), -1)
        return (q.unsqueeze(-1) * mu_z).sum(1)

    def log_importance_weights(self, x: Tensor, gen: torch.Generator | None) -> Tensor:
        mu_a, lv_a = self.q_a(x)
        a = reparameterize(mu_a, lv_a, gen)
        classes = all_classes(len(x), self.num_classes, x.device)
        log_px, z, mu_z, lv_z, log_pa = self._per_class(x, a, classes, gen)
        log_q = gaussian_log_prob(a, mu_a, lv_a).unsqueeze(1) + gaussian_log_prob(z, mu_z, lv_z)
        return log_px + std_normal_log_prob(z) + log_pa - log_q

    def reconstruct(self, x: Tensor, y: Tensor) -> Tensor:
        classes = y.unsqueeze(1)
        mu_z, _ = self.q_z(self.qz_in(x, self.q_a(x)[0], classes=classes))
        return self.lik.mean(self.p_x(self.px_in(mu_z, classes=classes))).squeeze(1)

    def sample(self, y: Tensor, gen: torch.Generator | None) -> Tensor:
        z = standard_normal((len(y), 1, self.cfg.z_dim), gen, self.cls_out.weight)
        return self.lik.mean(self.p_x(self.px_in(z, classes=y.unsqueeze(1)))).squeeze(1)
