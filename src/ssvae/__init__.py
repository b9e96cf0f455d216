"""ssvae: semi-supervised classification with deep generative models and the MIER regulariser."""

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
