"""The supervised-only baseline: the same q(y|x) network as M2, trained on the labeled examples alone.

Users need it to see whether the unlabeled data helps at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..interface import ModelConfig, SemiSupervisedVAE
from ..layers import mlp


@dataclass
class ClassifierConfig(ModelConfig):
    classifier_hidden: int = 600


class Classifier(SemiSupervisedVAE):
    """q(y|x) of M2 alone, trained on the labeled rows only: the supervised-only baseline."""

    supervised_only = True

    def __init__(self, input_dim: int, num_classes: int, cfg: ClassifierConfig):
        super().__init__()
        self.cfg, self.num_classes = cfg, num_classes
        self.classifier = mlp([input_dim, cfg.classifier_hidden])
        self.classifier_out = nn.Linear(cfg.classifier_hidden, num_classes)

    def features(self, x: Tensor) -> Tensor:
        return self.classifier(x)

    def latent_mean(self, x: Tensor) -> Tensor:
        """No generative latent: the classifier's hidden layer."""
        return self.features(x)

    def classifier_logits(self, x: Tensor, gen: torch.Generator | None = None) -> Tensor:
        return self.classifier_out(self.classifier(x))
