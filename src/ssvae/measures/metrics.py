"""Estimates on a trained model: q(y|x), accuracy and entropy, the eq. 2 bound and the IWAE bound.

Every estimate uses its own seeded generator, so that computing it twice gives the same number; validation
during training (`ssvae.training.selection`) and test-time evaluation use the same functions.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from tqdm import tqdm

from ..core.models import SemiSupervisedVAE
from ..core.objectives import entropy, log_uniform_prior, mutual_information, unlabeled_bound_kl
from ..data import to_unit

PREDICT_ROWS = 2000  # rows per pass of predict_log_proba (and of stacked runs' validation)


def chunks(n: int, size: int):
    """Slices of `size` rows covering `n` rows: evaluation in pieces that fit in memory."""
    for i in range(0, n, size):
        yield slice(i, min(i + size, n))


@torch.no_grad()
def predict_log_proba(model: SemiSupervisedVAE, x: Tensor, seed: int = 0, batch: int = PREDICT_ROWS) -> Tensor:
    """log q(y|x) for every row of `x` (device tensors), in eval mode, its noise seeded."""
    model.eval()
    gen = torch.Generator(device=x.device).manual_seed(seed)
    return torch.cat([model.predict_log_proba(to_unit(x[s]), gen) for s in chunks(len(x), batch)])


def classification_metrics(model: SemiSupervisedVAE, x: Tensor, y: Tensor, seed: int = 0) -> dict[str, float]:
    """Accuracy in percent, mean H(q(y|x)) in nats, and I(y;x) over the whole set (eq. 8)."""
    log_q = predict_log_proba(model, x, seed)
    return {
        "accuracy": 100.0 * float((log_q.argmax(-1) == y).float().mean()),
        "entropy": float(entropy(log_q).mean()),
        "mi": float(mutual_information(log_q)),
    }


@torch.no_grad()
def elbo(model: SemiSupervisedVAE, x: Tensor, seed: int = 0, batch: int = 500) -> Tensor:
    """Per-example eq. 2 bound U(x) (no warm-up), one z sample per class: an unbiased estimate."""
    model.eval()
    gen = torch.Generator(device=x.device).manual_seed(seed)
    return torch.cat([unlabeled_bound_kl(model.bound(to_unit(x[s]), None, gen)) for s in chunks(len(x), batch)])


@torch.no_grad()
def iwae(
    model: SemiSupervisedVAE, x: Tensor, samples: int, seed: int = 0, rows: int = 20000, progress: bool | None = None
) -> Tensor:
    """Per-example importance-weighted bound with `samples` draws per class, y summed exactly.

    log p(x) >= E log (1/S) sum_s sum_y p(y) w_sy, where w_sy = p(x, z_sy | y) / q(z_sy | x, y):
    tighter than eq. 2 and rising toward log p(x) as S grows.
    """
    model.eval()
    gen = torch.Generator(device=x.device).manual_seed(seed)
    k = model.num_classes
    log_py = log_uniform_prior(k)
    per_call = max(1, rows // (k * min(len(x), 500)))
    out = []
    parts = list(chunks(len(x), 500))
    for s in tqdm(parts, desc=f"IWAE-{samples}", unit="chunk", disable=None if progress is None else not progress):
        xb = to_unit(x[s])
        acc = torch.full((len(xb),), -math.inf, device=x.device)
        done = 0
        while done < samples:
            m = min(per_call, samples - done)
            xr = xb.expand(m, *xb.shape).reshape(m * len(xb), -1)
            log_w = model.log_importance_weights(xr, gen).view(m, len(xb), k) + log_py
            acc = torch.logaddexp(acc, torch.logsumexp(log_w, dim=(0, 2)))
            done += m
        out.append(acc - math.log(samples))
    return torch.cat(out)
