"""A real table at 10% labels: scikit-learn's bundled breast-cancer data (569 rows, 30 real-valued features),
ssvae's estimator against scikit-learn's baselines on the same splits, several seeds, paired differences.

    python benchmarks/tabular.py [--seeds 5] [--epochs 100] [--out results/tabular]

Each seed: a stratified 70/30 train/test split, 10% of the training rows labeled (stratified), the rest unlabeled
(y = -1); every method sees the same rows; test accuracy on the held-out 30%. No model selection (every ssvae
model keeps its last epoch, the estimator's default), so nothing here is tuned on the test rows. The baselines get
the features standardised on the training rows (the estimator standardises inside itself, the same way).
Writes OUT/tabular.md and OUT/tabular.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from ssvae import SemiSupervisedClassifier
from ssvae.evaluation.baselines import BASELINES, usable
from ssvae.experiments.tables import fmt, summarize, verdict

SSVAE = {
    "ssvae M2+MIER": dict(mier=True),
    "ssvae M2": dict(mier=False),
    "ssvae supervised-only network": dict(model="classifier"),
    "ssvae M1+M2+MIER": dict(features="m1", mier=True),
    "ssvae M1+M2": dict(features="m1", mier=False),
}


def one_seed(seed: int, epochs: int) -> dict[str, float]:
    x, y = load_breast_cancer(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, stratify=y, random_state=seed)
    lab, _ = train_test_split(np.arange(len(y_tr)), train_size=0.1, stratify=y_tr, random_state=seed)
    y_semi = np.full(len(y_tr), -1)
    y_semi[lab] = y_tr[lab]
    acc = {}
    for name, kw in SSVAE.items():
        t0 = time.perf_counter()
        est = SemiSupervisedClassifier(epochs=epochs, random_state=seed, device="cpu", **kw).fit(x_tr, y_semi)
        acc[name] = 100.0 * est.score(x_te, y_te)
        print(f"seed {seed} {name}: {acc[name]:.2f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    scaler = StandardScaler().fit(x_tr)
    s_tr, s_te = scaler.transform(x_tr), scaler.transform(x_te)
    unl = np.setdiff1d(np.arange(len(y_tr)), lab)
    for slug in usable(list(BASELINES)):
        name, fit = BASELINES[slug]
        clf = fit(s_tr[lab], y_tr[lab], s_tr[unl])
        acc[name] = 100.0 * float((clf.predict(s_te) == y_te).mean())
    return acc


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--out", type=Path, default=Path("results/tabular"))
    a = p.parse_args()
    per_seed = [one_seed(s, a.epochs) for s in range(a.seeds)]
    names = list(per_seed[0])
    baselines = [n for n in names if n.startswith("scikit-learn")]
    best_b = max(baselines, key=lambda n: np.mean([r[n] for r in per_seed]))
    lines = [
        f"breast cancer (scikit-learn), 10% of the 398 training rows labeled, {a.seeds} seeds, {a.epochs} epochs, "
        f"last epoch; CPU {platform.processor() or platform.machine()}\n",
        f"| method | test accuracy (%) | − {best_b} (paired) | verdict |",
        "|---|---|---|---|",
    ]
    for n in names:
        s = summarize([r[n] for r in per_seed])
        d = summarize([r[n] - r[best_b] for r in per_seed])
        v = "" if n == best_b else verdict(d, "better", "worse")
        lines.append(f"| {n} | {fmt(s)} | {'' if n == best_b else fmt(d)} | {v} |")
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "tabular.md").write_text("\n".join(lines) + "\n")
    (a.out / "tabular.json").write_text(json.dumps({"epochs": a.epochs, "per_seed": per_seed}, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
