"""ssvae: semi-supervised classification with deep generative models and the MIER regulariser."""

import os

# OpenMP threads that wait for work by sleeping, not spinning: with another busy process on the same cores, spinning
# threads took an M1 step from 18.6 to 68.7 ms on the 2-core EPYC, sleeping ones to 32.8 (alone they cost 5%:
# 19.5 ms; README, "A shared machine"). Read once, when torch loads OpenMP, so it is set before torch is imported;
# a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


from .core.models import MODELS, build_model, model_config, register
from .data import Dataset, load_dataset, make_split
from .errors import SSVAEError
from .estimator import SemiSupervisedClassifier
from .evaluation.evaluate import evaluate_run
from .training.config import TrainConfig
from .training.loop import train

__version__ = "0.1.0"
__all__ = [
    "MODELS",
    "Dataset",
    "SSVAEError",
    "SemiSupervisedClassifier",
    "TrainConfig",
    "build_model",
    "evaluate_run",
    "load_dataset",
    "make_split",
    "model_config",
    "register",
    "train",
]
