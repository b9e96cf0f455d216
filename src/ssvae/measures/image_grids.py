"""Image grids of a model's reconstructions and samples, as arrays: for figures and TensorBoard alike."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torchvision.utils import make_grid

from ..core.models import SemiSupervisedVAE
from ..data import to_unit


def grid_image(images: Tensor, shape: tuple[int, ...], nrow: int) -> np.ndarray:
    """[N, D] in [0, 1] -> one grid, `nrow` images per row: HxW for grayscale images (shape (H, W)), HxWx3 for
    colour ones (shape (H, W, 3))."""
    imgs = images.detach().float().cpu().clamp(0, 1)
    if len(shape) == 3:
        return (
            make_grid(imgs.view(-1, *shape).permute(0, 3, 1, 2), nrow=nrow, padding=1, pad_value=1.0)
            .permute(1, 2, 0)
            .numpy()
        )
    return make_grid(imgs.view(-1, 1, *shape), nrow=nrow, padding=1, pad_value=1.0)[0].numpy()


@torch.no_grad()
def reconstruction_grid(model: SemiSupervisedVAE, x_test: Tensor, shape: tuple[int, ...], n: int = 16) -> np.ndarray:
    """Test images (first row) above their reconstructions, y taken from the classifier."""
    model.eval()
    x = to_unit(x_test[:n])
    y = model.predict_log_proba(x, torch.Generator(device=x.device).manual_seed(0)).argmax(-1)
    return grid_image(torch.cat([x, model.reconstruct(x, y)]), shape, nrow=n)


@torch.no_grad()
def samples_grid(model: SemiSupervisedVAE, shape: tuple[int, ...], per_class: int = 10, seed: int = 0) -> np.ndarray:
    """One row per class, z ~ N(0, I)."""
    model.eval()
    device = next(model.parameters()).device
    y = torch.arange(model.num_classes, device=device).repeat_interleave(per_class)
    return grid_image(model.sample(y, torch.Generator(device=device).manual_seed(seed)), shape, nrow=per_class)
