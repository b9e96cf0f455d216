"""Issue 31 item 3: does the estimator's batch size carry over to a small set? SemiSupervisedClassifier at its
defaults (epochs="auto": 100 on digits) with batches of 100 and of 200, on scikit-learn's digits at 10 labels per
class, three seeds. Validation only: each seed holds out 300 of the 1,497 training images of test_estimator's split
(the 300 test images are never read), draws 10 labels per class from the rest, and marks the others unlabeled.

    python benchmarks/batch_size_digits.py OUT.json   (results/fit-defaults-digits)
"""

import json
import sys
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from ssvae import SemiSupervisedClassifier

torch.set_num_threads(1)
x, y = load_digits(return_X_y=True)
xtr, _, ytr, _ = train_test_split(x / 16.0, y, test_size=300, stratify=y, random_state=0)
rows = []
for seed in (0, 1, 2):
    xfit, xval, yfit, yval = train_test_split(xtr, ytr, test_size=300, stratify=ytr, random_state=seed)
    rng = np.random.default_rng(seed)
    keep = np.concatenate([rng.choice(np.flatnonzero(yfit == k), 10, replace=False) for k in range(10)])
    y_semi = np.full(len(yfit), -1)
    y_semi[keep] = yfit[keep]
    for batch in (100, 200):
        t0 = time.perf_counter()
        clf = SemiSupervisedClassifier(batch_size=batch, random_state=seed, device="cpu").fit(xfit, y_semi)
        rows.append(
            {
                "seed": seed,
                "batch_size": batch,
                "epochs": clf.config_["config"]["epochs"],
                "val_accuracy": 100 * clf.score(xval, yval),
                "seconds": time.perf_counter() - t0,
            }
        )
        print(rows[-1], flush=True)
with open(sys.argv[1], "w") as f:
    json.dump(rows, f, indent=1)
