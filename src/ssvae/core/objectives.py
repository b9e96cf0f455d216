"""The paper's math, in one place (equation numbers refer to Niloy et al., "Deep Dive into Semi-Supervised ELBO").

Everything is in log space. Models supply `Bound` pieces; these functions combine them, and `WEIGHTINGS` say
how much each of eq. 4/9's three terms weighs in one minibatch step. The objective's settings are declared
here too (`ObjectiveSettings`, part of every run's `TrainConfig`), with which of them may differ between runs
stacked into one step and which are shown only when their term is on: adding a term touches this module only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..settings import setting
from .interface import Bound, SemiSupervisedVAE


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


def unlabeled_bound(b: Bound, kl_weight: float = 1.0, entropy_weight: float = 1.0) -> Tensor:
    """Eq. 3: U(x) = E_q(y|x)[L(x,y)] + H(q(y|x)). Equal to eq. 2; this is the form training uses.
    `entropy_weight` scales the entropy bonus (--warmup-entropy: by the warm-up weight, as the KLs; since
    -KL(q(y|x) || p(y)) = H(q(y|x)) - log K for the uniform prior, that is the warm-up of U's KL on y too).
    When the model enumerated only some classes (`Bound.classes`, --enumerate-top), eq. 3 over them with q(y|x)
    renormalised on them (`truncated_posterior`): U_S(x) = E_q_S[L(x,y)] + H(q_S), a bound on log p(x) too."""
    log_q = b.log_qy if b.classes is None else truncated_posterior(b.log_qy, b.classes)
    return (log_q.exp() * labeled_bound(b, kl_weight)).sum(-1) + entropy_weight * entropy(log_q)


def truncated_posterior(log_qy: Tensor, classes: Tensor) -> Tensor:
    """log q_S(y|x) = log q(y|x) - log sum_{c in S} q(c|x) for the classes S of each row ([B, k] -> [B, k]):
    q(y|x) restricted to S and renormalised. Eq. 3 with q_S for q is the ELBO of the variational family whose y
    is drawn from q_S, so it bounds log p(x) as U does; it depends on the logits of S alone (docs/math.md)."""
    kept = log_qy.gather(-1, classes)
    return kept - torch.logsumexp(kept, dim=-1, keepdim=True)


def mutual_information(log_qy: Tensor) -> Tensor:
    """Eq. 8 on a minibatch: I(y;x) = H(mean_b q(y|x_b)) - mean_b H(q(y|x_b))."""
    log_q_marginal = torch.logsumexp(log_qy, dim=0) - math.log(log_qy.shape[0])
    return entropy(log_q_marginal) - entropy(log_qy).mean()


def mier_bound(u: Tensor, log_qy: Tensor, beta: float, gamma: float) -> Tensor:
    """Eq. 7 averaged over the batch: mean M(x) = mean U(x) + gamma I(y;x) - beta mean H(q(y|x))."""
    return u.mean() + gamma * mutual_information(log_qy) - beta * entropy(log_qy).mean()


def default_alpha(unlabeled_batches: int, labeled_batches: int) -> float:
    """`mean` weighting: 0.1 x (unlabeled batches per epoch) / (labeled batches per epoch), the per-batch-mean
    analogue of Kingma et al.'s alpha = 0.1 N that the widely used PyTorch implementation uses."""
    return 0.1 * unlabeled_batches / max(labeled_batches, 1)


@dataclass(frozen=True)
class TermWeights:
    """-loss = labeled * mean_b L + unlabeled * mean_b U (or M) + label * mean_b log q(y|x)
    (+ teacher * pseudo * mean_u c_u log q(t_u|x_u) with a graph teacher, `teacher_term`)."""

    labeled: float
    unlabeled: float
    label: float
    alpha: float  # the alpha of the weighting's own formula, as the user sets it with --alpha
    pseudo: float = 0.0  # the label term's weight for the unlabeled rows, were each labeled: alpha N_U / N, or alpha


def sum_weights(n_labeled: int, n_unlabeled: int, alpha: float | None = None) -> TermWeights:
    """Eq. 4/9 as written, with sums over the data sets: J = sum_L L + sum_U U + alpha sum_L log q(y|x).

    A labeled batch of B_L estimates sum_L f without bias as (N_L / B_L) sum_b f = N_L mean_b f, and an
    unlabeled batch sum_U f as N_U mean_b f; for MIER, sum_U M(x) = N_U (mean U + gamma I - beta mean H),
    since eq. 8's I is one number for the data set. Dividing J by the constant N = N_L + N_U keeps the loss
    per training example, so learning rates mean what they did::

        J / N ~ (N_L/N) mean L + (N_U/N) mean U + alpha (N_L/N) mean log q(y|x)

    Kingma et al.'s alpha = 0.1 N makes the label term 0.1 N_L: alpha N_L / N_U relative to the unlabeled
    bound (10.7 on digits with 10 labels per class, 102 on Fashion-MNIST with 100). Eq. 4 writes the label
    term as alpha E_{X_L}; a weight a_E on that mean is alpha = a_E / N_L here.
    """
    n = n_labeled + n_unlabeled
    alpha = 0.1 * n if alpha is None else alpha
    return TermWeights(n_labeled / n, n_unlabeled / n, alpha * n_labeled / n, alpha, alpha * n_unlabeled / n)


def mean_weights(unlabeled_batches: int, labeled_batches: int, alpha: float | None = None) -> TermWeights:
    """Per-batch means with equal weight: mean L + mean U + alpha mean log q (`default_alpha`). Relative to eq. 4
    the labeled bound weighs N_U / N_L times more, and the label term is small on small data sets."""
    alpha = default_alpha(unlabeled_batches, labeled_batches) if alpha is None else alpha
    return TermWeights(1.0, 1.0, alpha, alpha, alpha)


# name -> weights from (labeled examples, unlabeled examples, labeled batches, unlabeled batches per epoch, alpha)
WEIGHTINGS: dict[str, Callable[[int, int, int, int, float | None], TermWeights]] = {
    "sum": lambda n_lab, n_unl, lab_batches, unl_batches, alpha: sum_weights(n_lab, n_unl, alpha),
    "mean": lambda n_lab, n_unl, lab_batches, unl_batches, alpha: mean_weights(unl_batches, lab_batches, alpha),
}


@dataclass
class ObjectiveSettings:
    """The objective's settings in a run's configuration (the fields of `TrainConfig` that are the objective's).

    `per_run`: may differ between runs stacked into one step (`run_weights` hands them to the step per run).
    `shown_when`: named in run directories and tables only when that switch is on.
    """

    mier: bool = setting(
        False, help="add the MIER regulariser (eq. 7/9) to the unlabeled bound", group="run", per_run=True
    )
    beta: float = setting(5.0, help="MIER entropy weight", at_least=0.0, per_run=True, shown_when="mier")
    gamma: float = setting(1.0, help="MIER mutual-information weight", at_least=0.0, per_run=True, shown_when="mier")
    weighting: str = setting(
        "sum",
        help="sum: eq. 4/9 as written, minibatch estimates of the data-set sums (divided by N); mean: per-batch "
        "means with equal weight (the widely used implementation's rule). README, 'The math in brief'",
        choices=lambda: WEIGHTINGS,
        before_it_existed="mean",
    )
    warmup_entropy: bool = setting(
        False,
        help="scale U(x)'s entropy bonus H(q(y|x)) by the KL warm-up weight too (the paper's warm-up scales only "
        "the KL terms; README, 'Plain M2 over training')",
        before_it_existed=False,
    )
    kl_scale: float = setting(
        1.0,
        help="weight of the continuous latents' KL once the warm-up is over (1: the bound itself, as the paper; "
        "above 1 narrows what z may carry, as beta-VAE's beta); the warm-up ramps it from 0",
        above=0.0,
        before_it_existed=1.0,
    )
    mc_samples: int = setting(
        1,
        help="draws of the latents per example and step, the bound's estimate averaged over them (the ADGM authors' "
        "eq_samples; 1: the paper's one draw); each step costs that many times more",
        at_least=1,
        before_it_existed=1,
    )
    alpha: float | None = setting(
        None,
        help="weight of the labeled log q(y|x) term (default: 0.1 N with --weighting sum, as Kingma et al.; "
        "0.1 x unlabeled batches / labeled batches per epoch with mean)",
        at_least=0.0,
    )
    enumerate_top: int = setting(
        0,
        help="unlabeled rows enumerate only the k classes q(y|x) gives the most mass, their bound taken with q(y|x) "
        "renormalised over those k (a bound on log p(x) still; docs: The math, 'Enumerating where the mass is'); "
        "about k/K of the unlabeled rows' generative work (0, or K and more: every class, the paper's objective)",
        at_least=0,
        before_it_existed=0,
    )
    teacher: float = setting(
        0.0,
        help="the graph teacher's weight: each unlabeled row's q(y|x) is pulled towards the class Poisson learning "
        "gives it on the k-nearest-neighbour graph of the feature stage's code (or of the inputs), in proportion to "
        "that class's confidence; 1 weighs the most confident rows as labeled ones (0: off, the paper's objective)",
        at_least=0.0,
        before_it_existed=0.0,
    )


@dataclass
class ObjectiveConfig:
    """What one step's loss needs: the switches and weights of `ObjectiveSettings`, and the terms' weights."""

    mier: bool = False
    beta: float = 5.0
    gamma: float = 1.0
    weights: TermWeights = TermWeights(1.0, 1.0, 1.0, 1.0)
    warmup_entropy: bool = False
    kl_scale: float = 1.0
    mc_samples: int = 1
    enumerate_top: int = 0
    teacher: float = 0.0

    @classmethod
    def of(cls, s: ObjectiveSettings, weights: TermWeights) -> "ObjectiveConfig":
        return cls(
            mier=s.mier,
            beta=s.beta,
            gamma=s.gamma,
            weights=weights,
            warmup_entropy=s.warmup_entropy,
            kl_scale=s.kl_scale,
            mc_samples=s.mc_samples,
            enumerate_top=s.enumerate_top,
            teacher=s.teacher,
        )

    def with_run_weights(self, per_run: dict[str, Tensor]) -> "ObjectiveConfig":
        """The config of one run inside a stacked step: every term on, with that run's weights (`run_weights`)."""
        return replace(self, mier=True, **per_run)


def run_weights(s: ObjectiveSettings | ObjectiveConfig) -> dict[str, float]:
    """The per-run numbers of a stacked step. A run without MIER is MIER with beta = gamma = 0: eq. 7 then adds
    exactly nothing, so baseline and MIER runs share one step."""
    return {"beta": s.beta if s.mier else 0.0, "gamma": s.gamma if s.mier else 0.0}


def classification_log_lik(log_qy: Tensor, y: Tensor) -> Tensor:
    """log q(y|x) at the true labels, per example."""
    return log_qy.gather(-1, y.unsqueeze(-1)).squeeze(-1)


def teacher_term(log_qy: Tensor, targets: tuple[Tensor, Tensor]) -> Tensor:
    """The graph teacher's term on an unlabeled batch (not in the paper): mean_u c_u log q(t_u|x_u), with t_u the
    class Poisson learning gives row u and c_u its confidence in (0, 1] (`ssvae.graph.teacher`). As the label term
    does for labeled rows, it adds a classification term for unlabeled rows, each weighted by how far the graph
    is to be trusted there; J_T = J + teacher * w.pseudo * this (`semi_supervised_loss`)."""
    labels, confidence = targets
    return (confidence * classification_log_lik(log_qy, labels)).mean()


def semi_supervised_loss(
    model: SemiSupervisedVAE,
    x_lab: Tensor,
    y_lab: Tensor,
    x_unl: Tensor,
    gen: torch.Generator | None,
    cfg: ObjectiveConfig,
    kl_weight: float | Tensor,
    targets: tuple[Tensor, Tensor] | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """-J (eq. 4) or -J2 (eq. 9) on one labeled and one unlabeled batch; also the terms, for logging.
    With `mc_samples` S every row is taken S times, each with its own draws, so each batch mean below is the mean
    over examples of the S-draw average (and eq. 8's q(y) the mean over the S x B rows). `targets`: the graph
    teacher's class and confidence for each unlabeled row (`teacher_term`), used when `cfg.teacher` is on."""
    if cfg.mc_samples > 1:
        x_lab, y_lab, x_unl = (t.repeat_interleave(cfg.mc_samples, 0) for t in (x_lab, y_lab, x_unl))
        targets = None if targets is None else tuple(t.repeat_interleave(cfg.mc_samples, 0) for t in targets)
    lab = model.bound(x_lab, y_lab, gen)
    unl = model.bound(x_unl, None, gen, cfg.enumerate_top)  # every class, or the top k (--enumerate-top)
    kl_z = kl_weight * cfg.kl_scale  # the warm-up's ramp, towards --kl-scale (1: eq. 1-3 as written)
    big_l = labeled_bound(lab, kl_z).mean()
    u = unlabeled_bound(unl, kl_z, kl_weight if cfg.warmup_entropy else 1.0)
    log_lik_y = classification_log_lik(lab.log_qy, y_lab).mean()
    mi = mutual_information(unl.log_qy)
    h = entropy(unl.log_qy).mean()
    unl_term = mier_bound(u, unl.log_qy, cfg.beta, cfg.gamma) if cfg.mier else u.mean()
    w = cfg.weights
    j = w.labeled * big_l + w.unlabeled * unl_term + w.label * log_lik_y  # eq. 9 with MIER, else eq. 4
    stats = {"loss": -j, "L": big_l, "U": u.mean(), "class_nll": -log_lik_y, "mi": mi, "entropy": h}
    if cfg.teacher and targets is not None:
        taught = teacher_term(unl.log_qy, targets)
        j = j + cfg.teacher * w.pseudo * taught  # J_T: the graph teacher's term
        stats.update(loss=-j, teacher_nll=-taught)
    return -j, stats


def supervised_loss(
    model: SemiSupervisedVAE,
    x_lab: Tensor,
    y_lab: Tensor,
    x_unl: Tensor,
    gen: torch.Generator | None,
    cfg: ObjectiveConfig,
    kl_weight: float | Tensor,
    targets: tuple[Tensor, Tensor] | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Cross-entropy on the labeled batch alone: the baseline that ignores x_unl (and has no teacher term)."""
    log_qy = model.predict_log_proba(x_lab, gen)
    nll = F.nll_loss(log_qy, y_lab)
    with torch.no_grad():
        log_qu = model.predict_log_proba(x_unl, gen)
    return nll, {"loss": nll, "class_nll": nll, "mi": mutual_information(log_qu), "entropy": entropy(log_qu).mean()}


def loss_function(model: SemiSupervisedVAE):
    """The loss a model trains with: eq. 4/9 for a generative model, the labels' NLL for the classifier."""
    return supervised_loss if model.supervised_only else semi_supervised_loss
