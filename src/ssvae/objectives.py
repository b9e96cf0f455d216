"""The paper's math, in one place (equation numbers refer to Niloy et al., "Deep Dive into Semi-Supervised ELBO").

Everything is in log space. Models supply `Bound` pieces; these functions combine them. Batches are
averaged rather than summed (eq. 4 and 9 are written with sums): with per-batch means the labeled and
unlabeled terms keep equal weight whatever the batch sizes, and alpha absorbs the ratio (see `default_alpha`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .models.base import Bound, SemiSupervisedVAE


def log_uniform_prior(num_classes: int) -> float:
    """log p(y) for the uniform class prior."""
    return -math.log(num_classes)


def entropy(log_q: Tensor) -> Tensor:
    """H(q) = -sum_y q log q over the last axis."""
    return -(log_q.exp() * log_q).sum(-1)


def labeled_bound(b: Bound, kl_weight: float = 1.0) -> Tensor:
    """Eq. 1: L(x,y) = E_q[log p(x|y,z) + log p(y) + log p(z) - log q(z|x,y)]; works per class on [B, K]."""
    return b.log_px + log_uniform_prior(b.log_qy.shape[-1]) - kl_weight * b.kl


def unlabeled_bound_kl(b: Bound, kl_weight: float = 1.0) -> Tensor:
    """Eq. 2: U(x) = E_q(y,z|x) log p(x|z,y) - KL(q(y|x) || p(y)) - E_q(y|x) KL(q(z|x,y) || p(z))."""
    q = b.log_qy.exp()
    kl_y = (q * (b.log_qy - log_uniform_prior(b.log_qy.shape[-1]))).sum(-1)
    return (q * (b.log_px - kl_weight * b.kl)).sum(-1) - kl_y


def unlabeled_bound(b: Bound, kl_weight: float = 1.0) -> Tensor:
    """Eq. 3: U(x) = E_q(y|x)[L(x,y)] + H(q(y|x)). Equal to eq. 2; this is the form training uses."""
    return (b.log_qy.exp() * labeled_bound(b, kl_weight)).sum(-1) + entropy(b.log_qy)


def mutual_information(log_qy: Tensor) -> Tensor:
    """Eq. 8 on a minibatch: I(y;x) = H(mean_b q(y|x_b)) - mean_b H(q(y|x_b))."""
    log_q_marginal = torch.logsumexp(log_qy, dim=0) - math.log(log_qy.shape[0])
    return entropy(log_q_marginal) - entropy(log_qy).mean()


def mier_bound(u: Tensor, log_qy: Tensor, beta: float, gamma: float) -> Tensor:
    """Eq. 7 averaged over the batch: mean M(x) = mean U(x) + gamma I(y;x) - beta mean H(q(y|x))."""
    return u.mean() + gamma * mutual_information(log_qy) - beta * entropy(log_qy).mean()


def default_alpha(unlabeled_batches: int, labeled_batches: int) -> float:
    """0.1 x (unlabeled batches per epoch) / (labeled batches per epoch): the per-batch-mean analogue of
    Kingma et al.'s alpha = 0.1 N on sums, as the widely used PyTorch implementation does (about 6 here)."""
    return 0.1 * unlabeled_batches / max(labeled_batches, 1)


@dataclass
class ObjectiveConfig:
    mier: bool = False
    beta: float = 5.0
    gamma: float = 1.0
    alpha: float = 1.0


def classification_log_lik(log_qy: Tensor, y: Tensor) -> Tensor:
    """log q(y|x) at the true labels, per example."""
    return log_qy.gather(-1, y.unsqueeze(-1)).squeeze(-1)


def semi_supervised_loss(
    model: SemiSupervisedVAE,
    x_lab: Tensor,
    y_lab: Tensor,
    x_unl: Tensor,
    gen: torch.Generator | None,
    cfg: ObjectiveConfig,
    kl_weight: float | Tensor,
) -> tuple[Tensor, dict[str, Tensor]]:
    """-J (eq. 4) or -J2 (eq. 9) on one labeled and one unlabeled batch; also the terms, for logging."""
    lab = model.bound(x_lab, y_lab, gen)
    unl = model.bound(x_unl, None, gen)
    big_l = labeled_bound(lab, kl_weight).mean()
    u = unlabeled_bound(unl, kl_weight)
    log_lik_y = classification_log_lik(lab.log_qy, y_lab).mean()
    mi = mutual_information(unl.log_qy)
    h = entropy(unl.log_qy).mean()
    unl_term = mier_bound(u, unl.log_qy, cfg.beta, cfg.gamma) if cfg.mier else u.mean()
    j = big_l + unl_term + cfg.alpha * log_lik_y  # eq. 9 with MIER, else eq. 4
    stats = {"loss": -j, "L": big_l, "U": u.mean(), "class_nll": -log_lik_y, "mi": mi, "entropy": h}
    return -j, stats


def supervised_loss(
    model: SemiSupervisedVAE,
    x_lab: Tensor,
    y_lab: Tensor,
    x_unl: Tensor,
    gen: torch.Generator | None,
    cfg: ObjectiveConfig,
    kl_weight: float | Tensor,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Cross-entropy on the labeled batch alone: the baseline that ignores x_unl."""
    log_qy = model.predict_log_proba(x_lab, gen)
    nll = F.nll_loss(log_qy, y_lab)
    with torch.no_grad():
        log_qu = model.predict_log_proba(x_unl, gen)
    return nll, {"loss": nll, "class_nll": nll, "mi": mutual_information(log_qu), "entropy": entropy(log_qu).mean()}


def loss_function(model: SemiSupervisedVAE):
    return supervised_loss if model.supervised_only else semi_supervised_loss
