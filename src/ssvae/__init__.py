"""ssvae: semi-supervised classification with deep generative models and the MIER regulariser."""

import os

# OpenMP threads that wait for work by sleeping, not spinning: beside another busy process on the same cores, an M1
# step took 55.3 ms with spinning threads and 30.2 with sleeping ones on the 2-core AVX2 EPYC (alone 16.7 and 17.7;
# benchmarks/shared_machine.py). Read once, when torch loads OpenMP, so it is set before torch is imported; a value
# the user set wins.
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
