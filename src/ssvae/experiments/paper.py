"""The published numbers of Niloy et al. (Tables 1-3), to print beside reproduced ones."""

from __future__ import annotations

LABELS = 100  # labels per class of Tables 1 and 2: at any other count the paper has no number to compare with

# Table 1: test accuracy (%), 100 labels per class. Keys: (model, mier) -> dataset -> value.
TABLE1: dict[tuple[str, bool], dict[str, float]] = {
    ("m2", False): {"cifar10": 25.87, "fashion-mnist": 78.84, "svhn": 28.46, "kmnist": 65.77},
    ("m2", True): {"cifar10": 27.11, "fashion-mnist": 80.23, "svhn": 31.40, "kmnist": 70.30},
    ("adgm", False): {"cifar10": 26.98, "fashion-mnist": 79.36, "svhn": 26.49, "kmnist": 67.05},
    ("adgm", True): {"cifar10": 27.82, "fashion-mnist": 80.19, "svhn": 30.98, "kmnist": 68.97},
    ("lvae", False): {"cifar10": 28.14, "fashion-mnist": 80.48, "svhn": 32.04, "kmnist": 80.48},
    ("lvae", True): {"cifar10": 29.18, "fashion-mnist": 80.97, "svhn": 33.25, "kmnist": 81.44},
}

# Table 2: test entropy of q(y|x) (nats) and the bound <= log p(x) (nats), 100 labels per class.
TABLE2: dict[tuple[str, bool], dict[str, tuple[float, float]]] = {
    ("m2", False): {"cifar10": (0.3742, -636.20), "fashion-mnist": (0.0439, -248.18)},
    ("m2", True): {"cifar10": (0.1551, -638.31), "fashion-mnist": (0.0211, -247.95)},
    ("adgm", False): {"cifar10": (0.2920, -643.66), "fashion-mnist": (0.0435, -248.41)},
    ("adgm", True): {"cifar10": (0.1435, -643.42), "fashion-mnist": (0.0106, -247.88)},
    ("lvae", False): {"cifar10": (0.4075, -652.58), "fashion-mnist": (0.0770, -251.35)},
    ("lvae", True): {"cifar10": (0.2247, -652.88), "fashion-mnist": (0.0452, -251.51)},
}

# Table 3: M2 test accuracy (%) by labels per class: dataset -> labels -> (M2, M2+MIER).
TABLE3: dict[str, dict[int, tuple[float, float]]] = {
    "cifar10": {100: (25.87, 27.11), 250: (31.08, 31.92), 500: (32.97, 33.52)},
    "fashion-mnist": {100: (78.84, 80.23), 250: (81.97, 82.61), 500: (83.54, 84.29)},
    "svhn": {100: (28.46, 31.40), 250: (36.84, 37.58), 500: (41.50, 44.06)},
    "kmnist": {100: (65.77, 70.30), 250: (79.11, 80.75), 500: (83.27, 83.41)},
}

# The model of the paper's Table 3 (labels ablation) and of its Figs. 2-4 (against the same model with MIER).
FIGURE_MODEL = "m2"
