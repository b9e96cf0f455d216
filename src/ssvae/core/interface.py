"""What every model provides so that one objective (eq. 1-9) serves them all.

A model only says how to compute the pieces of its bound for given classes; `ssvae.core.objectives` turns the
pieces into L(x,y), U(x), M(x) and J. Unlabeled batches are handled by exact enumeration of all K classes:
the model returns a [B, K] grid of per-class pieces, never a sampled y; with `top` = k (--enumerate-top) only the
k classes q(y|x) gives most mass, a [B, k] grid, and `Bound.classes` says which (`enumerated_classes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class Bound:
    """Per-example pieces of the variational bound.

    Attributes
    ----------
    log_qy
        `[B, K]` log q(y|x) of the classifier (ADGM: q(y|a,x) at the very sample a used below).
    log_px
        `[B]` (labeled) or `[B, K]` (every class): one-sample estimate of E_q log p(x|y,z).
    kl
        same shape: the continuous latents' KL to their priors (exact where closed form, else a one-sample
        estimate of log q - log p); KL warm-up scales this term only.
    classes
        `[B, k]` the classes `log_px` and `kl` are for, when an unlabeled batch enumerates only k < K of them
        (`enumerated_classes`); None: the labeled y, or every class in order.
    """

    log_qy: Tensor
    log_px: Tensor
    kl: Tensor
    classes: Tensor | None = None


@dataclass
class ModelConfig:
    """What every model's config has (each model's config dataclass derives from it)."""

    init: str = "pytorch"  # how its Linear layers start (layers.INITS)


def upcast(t: Tensor) -> Tensor:
    """Half-precision activations (from bf16 autocast) back to float32 before densities are summed."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


class SemiSupervisedVAE(nn.Module):
    """Interface of the generative semi-supervised models."""

    num_classes: int
    supervised_only = False

    def bound(self, x: Tensor, y: Tensor | None, gen: torch.Generator | None, top: int = 0) -> Bound:
        """Bound pieces for labeled (y given, shape [B]) or unlabeled (y None: all K classes, or with `top` = k the
        k most probable under q(y|x), `enumerated_classes`) x."""
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


def all_classes(batch: int, num_classes: int, device: torch.device) -> Tensor:
    """[B, K] class indices for exact enumeration: one row expanded (stride 0), which JointInput exploits."""
    return torch.arange(num_classes, device=device).expand(batch, num_classes)


def enumerated_classes(log_qy: Tensor, y: Tensor | None, top: int = 0) -> tuple[Tensor, Tensor | None]:
    """The classes a bound's per-class pieces are computed for, and what `Bound.classes` records: [B, 1] the
    labels y; [B, K] every class (top 0 or >= K, the paper's enumeration); else [B, top] the classes with the most
    mass under q(y|x), most probable first (chosen without gradient: a choice, not a function of the weights)."""
    if y is not None:
        return y.unsqueeze(1), None
    batch, num_classes = log_qy.shape
    if enumerated_count(num_classes, top) < num_classes:
        kept = log_qy.detach().topk(top, dim=-1).indices
        return kept, kept
    return all_classes(batch, num_classes, log_qy.device), None


def enumerated_count(num_classes: int, top: int = 0) -> int:
    """How many classes an unlabeled row's bound enumerates: `top` where 0 < top < K, else all K."""
    return top if 0 < top < num_classes else num_classes
